/**
 * `atfed plc` as a child process: `history` prints the audit log one JSON
 * entry per line (and `--verify` replays it); the server subcommand starts
 * from flags or env, answers, and exits cleanly on SIGTERM.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { createGenesisOp, createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import { getJson, postOp, startTestPlc, tempDir, type TestPlc } from '../helpers/plc.ts'

const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

let plc: TestPlc
before(async () => {
  plc = await startTestPlc()
})
after(async () => {
  await plc.stop()
})

async function atfed(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('atfed plc history <did> --plc <url> prints the audit log, one JSON entry per line', { timeout: 60_000 }, async () => {
  const key = generateKeypair('k256')
  const g = createGenesisOp({
    signingKey: key.publicKey.didKey,
    rotationKeys: [key.publicKey.didKey],
    handle: 'cli.test',
    pds: 'https://pds.test',
    signer: key,
  })
  const u = createUpdateOp(g.op, { signer: key, handle: 'cli2.test' })
  await postOp(plc.url, g.did, g.op)
  await postOp(plc.url, g.did, u.op)
  const out = await atfed(['plc', 'history', g.did, '--plc', plc.url, '--verify'])
  assert.equal(out.code, 0, out.stderr)
  const lines = out.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)
  assert.deepEqual(lines, (await getJson(`${plc.url}/${g.did}/log/audit`)).body)
  assert.equal(lines.length, 2)

  const viaEnv = await atfed(['plc', 'history', g.did], { ATFED_PLC_URL: plc.url })
  assert.equal(viaEnv.stdout, out.stdout)

  const missing = await atfed(['plc', 'history', 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', '--plc', plc.url])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^atfed: DidNotFound: /)
  const notPlc = await atfed(['plc', 'history', 'did:web:example.com', '--plc', plc.url])
  assert.match(notPlc.stderr, /^atfed: InvalidDid: /)
})

test('atfed plc --port 0 --data DIR serves until SIGTERM; a data dir is required', { timeout: 60_000 }, async () => {
  const dir = tempDir()
  try {
    const child = spawn(process.execPath, [ATFED, 'plc', '--port', '0'], {
      env: { ...process.env, ATFED_PLC_DATA: dir.path },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.setEncoding('utf8')
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
        if (m) resolve(m[1]!)
      })
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)))
    })
    assert.deepEqual((await getJson(`${url}/_health`)).body, { version: 'atfed-plc/0.1.0' })
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
  } finally {
    dir.remove()
  }
  const noData = await atfed(['plc', '--port', '0'], { ATFED_PLC_DATA: '' })
  assert.equal(noData.code, 1)
  assert.match(noData.stderr, /InvalidArgument: a data directory is required/)
  const badPort = await atfed(['plc', '--port', '70000', '--data', '/tmp/x'])
  assert.match(badPort.stderr, /InvalidArgument: not a port number/)
})
