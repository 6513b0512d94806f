/**
 * `atfed labeler label` and `atfed labeler` as child processes: create a
 * label, refusals as one line with the error name (no stack trace),
 * negate; the server prints its DID and URL, answers, and exits 0 on
 * SIGTERM.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ADMIN_PASSWORD, startLabelerHarness } from '../helpers/labeler-harness.ts'
import { tempDir } from '../helpers/plc.ts'
const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

async function atfed(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

function assertCleanError(out: { code: number; stderr: string }, name: string): void {
  assert.equal(out.code, 1, out.stderr)
  assert.match(out.stderr, new RegExp(`^atfed: ${name}: `))
  assert.doesNotMatch(out.stderr, /\n\s+at /, 'no stack trace')
}

test('atfed labeler label: create, refusals by name, negate; atfed labeler serves until SIGTERM', async () => {
  const h = await startLabelerHarness()
  try {
    const subject = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
    const base = ['labeler', 'label', '--url', h.labeler.url, '--uri', subject]
    const created = await atfed([...base, '--val', 'cli-label', '--admin-password', ADMIN_PASSWORD])
    assert.equal(created.code, 0, created.stderr)
    const body = JSON.parse(created.stdout) as { seq: number; label: { val: string; src: string } }
    assert.deepEqual([body.label.val, body.label.src], ['cli-label', h.labeler.did])
    assert.equal((await h.query({ uriPatterns: subject })).body.labels.length, 1)
    assertCleanError(await atfed([...base, '--val', 'Bad Value', '--admin-password', ADMIN_PASSWORD]), 'InvalidLabelValue')
    assertCleanError(await atfed([...base, '--val', 'cli-label']), 'InvalidArgument')
    const negated = await atfed([...base, '--val', 'cli-label', '--neg'], { ATFED_LABELER_ADMIN_PASSWORD: ADMIN_PASSWORD })
    assert.equal(negated.code, 0, negated.stderr)
    assert.equal((JSON.parse(negated.stdout) as { label: { neg: boolean } }).label.neg, true)
    assert.equal((await h.query({ uriPatterns: subject })).body.labels.length, 0)
    assertCleanError(await atfed([...base, '--val', 'cli-label', '--neg', '--admin-password', ADMIN_PASSWORD]), 'LabelNotFound')
  } finally {
    await h.close()
  }
  assertCleanError(await atfed(['labeler', '--data', '/nonexistent-dir/x']), 'InvalidConfig')
  const dir = tempDir('atfed-labeler-cli-')
  const child = spawn(process.execPath, [ATFED, 'labeler', '--port', '0', '--data', dir.path, '--identity', 'web', '--hostname', 'localhost:7779', '--dev'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`no start line: ${out}`)), 15_000)
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('\n')) {
          clearTimeout(timer)
          resolve(out)
        }
      })
      child.once('exit', (code) => reject(new Error(`exited ${code}`)))
    })
    const url = /listening on (http:\/\/\S+)/.exec(line)?.[1]
    assert.match(line, /^labeler did:web:localhost%3A7779 listening on /)
    const health = (await (await fetch(`${url}/xrpc/_health`)).json()) as { did: string }
    assert.equal(health.did, 'did:web:localhost%3A7779')
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
    dir.remove()
  }
})
