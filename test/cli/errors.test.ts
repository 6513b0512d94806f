/**
 * `atfed` failures are ONE line, `atfed: <ErrorName>: <message>`, exit 1,
 * no stack trace — with the SERVER's error name when a call to a service
 * fails (never the client's class name `XrpcClientError`):
 *   - as child processes (bin/atfed.js) against a real PDS in this process:
 *     account create with a taken handle, account list and admin commands
 *     with a wrong admin password, car export of an unknown DID, an
 *     unreachable server, a missing file;
 *   - in-process: describeError for each kind of error;
 *   - the crash handler: an error thrown outside any command (a timer) or an
 *     unhandled rejection is the same one line and exit 1; ATFED_DEBUG=1
 *     adds the stack; a multi-line message is folded onto one line.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { AddressInfo } from 'node:net'
import { AtfedError } from '../../core/errors.ts'
import { XrpcClientError } from '../../core/xrpc/client.ts'
import { describeError } from '../../cli/cli-errors.ts'
import { assertOneLineError, runAtfed } from '../helpers/atfed-cli.ts'
import { createTestAccount, startPlcForPds, startTestPds } from '../helpers/pds.ts'
import type { TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const ADMIN_PASSWORD = 'errors-test-admin'
let plc: TestPlc
let pds: TestPds

before(async () => {
  plc = await startPlcForPds()
  pds = await startTestPds({ plc, config: { adminPassword: ADMIN_PASSWORD } })
  await createTestAccount(pds.publicUrl, 'taken.test')
})

after(async () => {
  await pds?.stop()
  await plc?.close()
})

/** A port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

function assertNoClientClassName(out: { stderr: string }): void {
  assert.doesNotMatch(out.stderr, /XrpcClientError/)
}

test('server-side failures print the server error name', { timeout: 60_000 }, async () => {
  const url = pds.publicUrl
  const [taken, listWrong, invitesWrong, takedownWrong, exportUnknown] = await Promise.all([
    runAtfed(['account', 'create', '--pds', url, '--handle', 'taken.test', '--password', 'another-password-1']),
    runAtfed(['account', 'list', '--pds', url, '--admin-password', 'wrong']),
    runAtfed(['admin', 'invites', 'create', '--pds', url, '--admin-password', 'wrong']),
    runAtfed(['admin', 'takedown', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', '--pds', url, '--admin-password', 'wrong']),
    runAtfed(['car', 'export', '--pds', url, '--did', 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb', '--out', '/tmp/atfed-errors-never.car']),
  ])
  assertOneLineError(taken, 'HandleNotAvailable')
  for (const out of [listWrong, invitesWrong, takedownWrong]) assertOneLineError(out, 'AuthenticationRequired')
  assertOneLineError(exportUnknown, 'RepoNotFound')
  for (const out of [taken, listWrong, invitesWrong, takedownWrong, exportUnknown]) {
    assertNoClientClassName(out)
    assert.equal(out.stderr.trim().split('\n').length, 1, `one line: ${out.stderr}`)
  }
})

test('local failures: an unreachable server, a missing file, a bad argument, usage errors', { timeout: 60_000 }, async () => {
  const closed = await closedPort()
  const [refused, missing, badDid, noFile, noHandle] = await Promise.all([
    runAtfed(['account', 'create', '--pds', `http://127.0.0.1:${closed}`, '--handle', 'x.test', '--password', 'p']),
    runAtfed(['car', 'inspect', '/nonexistent/atfed-errors.car']),
    runAtfed(['plc', 'history', 'not-a-did', '--plc', plc.url]),
    runAtfed(['car', 'inspect']),
    runAtfed(['account', 'create', '--pds', pds.publicUrl, '--password', 'p']),
  ])
  assertOneLineError(refused, 'UpstreamFailure')
  assert.match(refused.stderr, /ECONNREFUSED/, 'the cause is named')
  assertOneLineError(missing, 'ENOENT')
  assertOneLineError(badDid, 'InvalidDid')
  assert.equal(noFile.stderr, "atfed: UsageError: missing required argument 'file' (see: atfed car inspect --help)\n")
  assert.equal(noFile.code, 1)
  assert.equal(noHandle.stderr, "atfed: UsageError: required option '--handle <handle>' not specified (see: atfed account create --help)\n")
})

test('describeError: the server name, our name, the system code, a bug', () => {
  assert.deepEqual(describeError(new XrpcClientError(400, 'RepoNotFound', 'Could not find repo')), {
    name: 'RepoNotFound', message: 'Could not find repo', bug: false,
  })
  assert.deepEqual(describeError(new AtfedError('InvalidCar', 'bad')), { name: 'InvalidCar', message: 'bad', bug: false })
  const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:80'), { code: 'EADDRINUSE' })
  assert.deepEqual(describeError(new AtfedError('ListenFailed', 'cannot listen on 127.0.0.1:80', { cause: inUse })), {
    name: 'ListenFailed', message: 'cannot listen on 127.0.0.1:80 (listen EADDRINUSE: address already in use 127.0.0.1:80)', bug: false,
  })
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT' })
  assert.deepEqual(describeError(enoent), { name: 'ENOENT', message: "no such file or directory, open 'x'", bug: false })
  assert.deepEqual(describeError(new TypeError('x is undefined')), { name: 'TypeError', message: 'x is undefined', bug: true })
  assert.deepEqual(describeError('thrown text'), { name: 'Error', message: 'thrown text', bug: true })
})

/** A child that installs the crash handler, then runs `body` (JS) outside any promise chain. */
function crash(body: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stderr: string }> {
  const errorsUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'cli', 'cli-errors.ts')).href
  const script = `const { installCrashHandler } = await import(${JSON.stringify(errorsUrl)}); installCrashHandler(); ${body}`
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr })
    })
  })
}

test('an uncaught error or unhandled rejection: one line, exit 1; the stack only with ATFED_DEBUG=1', { timeout: 60_000 }, async () => {
  const [thrown, rejected, debug] = await Promise.all([
    crash("setTimeout(() => { throw new TypeError('boom\\nsecond line') }, 1)"),
    crash("Promise.reject(Object.assign(new Error('gone'), { code: 'ECONNRESET' }))"),
    crash("setTimeout(() => { throw new RangeError('deep') }, 1)", { ATFED_DEBUG: '1' }),
  ])
  assert.equal(thrown.code, 1)
  assert.equal(thrown.stderr, 'atfed: TypeError: boom second line (an atfed bug? ATFED_DEBUG=1 prints the stack)\n')
  assert.equal(rejected.code, 1)
  assert.equal(rejected.stderr, 'atfed: ECONNRESET: gone\n')
  assert.equal(debug.code, 1)
  assert.match(debug.stderr, /^atfed: RangeError: deep\n/)
  assert.match(debug.stderr, /\n\s+at /, 'the stack with ATFED_DEBUG=1')
})
