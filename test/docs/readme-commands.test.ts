/**
 * The README's commands, run as written on a fresh clone.
 *
 * `git clone --no-hardlinks` of this repository at HEAD into a temp dir;
 * from ITS README.md (what a newcomer reads):
 *   1. the quick start, the first shell block under "Quick start": exactly
 *      `npm ci` (really run; npm's audit/fund/update-notifier are switched off
 *      through the environment, so no registry round trip beyond what ci
 *      needs — the warm npm cache serves the tarballs) and `npm start`, as
 *      a child in its own process group, until `atfed dev: ready`;
 *   2. every row of the printed table answers: each service its health
 *      route (and its DID document or DID), the firehose and Jetstream
 *      WebSockets their first event, the dashboards a page, each feed URI a
 *      skeleton (the keyword feed with the seeded posts in it);
 *   3. the second block of that section (the "look around" commands), in
 *      one bash with `set -e`, while the network runs, each command's
 *      output checked by the entry of TRY_CHECKS that matches it (a README
 *      command without an entry fails the test: add a check);
 *   4. SIGINT to the group (a terminal's Ctrl-C): a clean exit, code 0,
 *      `atfed dev: stopped`.
 * Every other shell block must be listed in SKIPPED with the reason it
 * cannot run here; each shows as a skipped test with that reason. A block
 * neither run nor skipped fails the first test.
 *
 * Uses the default ports (the README's URLs name them): the test fails at
 * once, naming the port, when one is taken. Every wait is bounded; on
 * failure the process group gets SIGTERM (atfed dev stops its services),
 * then SIGKILL, and services it left are stopped through DATA/dev.pid.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { claimDataDir } from '../../cli/dev-lock.ts'
import { DEV_DEFAULT_PORTS } from '../../cli/dev-layout.ts'
import { checkTableRow, parseDevTable } from './readme-network.ts'
import { TRY_CHECKS } from './readme-try-checks.ts'
import type { TryContext } from './readme-try-checks.ts'
import { newcomerEnv, runScript, shellBlocks, startGroup, withoutComment } from './readme-shell.ts'
import type { GroupProcess, ShellBlock } from './readme-shell.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const NPM_CI_TIMEOUT_MS = 5 * 60_000
const READY_TIMEOUT_MS = 3 * 60_000
const TRY_TIMEOUT_MS = 3 * 60_000
const STOP_TIMEOUT_MS = 60_000

/** Shell blocks that cannot run on loopback here, by their first command, with the reason. */
const SKIPPED: readonly { readonly first: RegExp; readonly reason: string }[] = [
  { first: /^npm test$/, reason: 'the whole suite, this test included; .ci/run runs it on a fresh clone' },
  { first: /^atfed pds .*--hostname pds\.example\.com/, reason: 'hosting for real: a public hostname and TLS proxy, plc.directory, bsky.network' },
  { first: /^atfed account migrate --from https:\/\/old\.example/, reason: 'two real PDSes at example hosts; test/pds/migration*.test.ts runs the flow on loopback' },
  { first: /^atfed account recovery-key add --pds https:\/\/old\.example/, reason: 'example hosts and a real PLC; test/recovery/recovery-e2e.test.ts runs the flow on loopback' },
  { first: /^cp -r \.\.\/shared\/peers \/tmp\/peers/, reason: 'the reference PDS from ../shared/peers (outside this repository, Node 22, ~5 min of npm ci): outside CI by design' },
  { first: /^nats-server .*--routes nats:\/\/n1:/, reason: 'a NATS cluster across three machines n1..n3; test/relay-cluster runs nats-server nodes on loopback' },
  { first: /^NATS=nats:\/\/n1:4222/, reason: 'relay processes on the n1..n3 NATS cluster with example PDS hosts; test/relay-cluster runs them on loopback' },
]

const headRev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
const clone = mkdtempSync(join(tmpdir(), 'atfed-readme-'))
execFileSync('git', ['clone', '-q', '--no-hardlinks', ROOT, clone], { timeout: 120_000 })
execFileSync('git', ['-c', 'advice.detachedHead=false', 'checkout', '-q', headRev], { cwd: clone })
const readme = readFileSync(join(clone, 'README.md'), 'utf8')
const blocks = shellBlocks(readme)
const quickIndex = blocks.findIndex((b) => b.heading.startsWith('Quick start'))
const quickStart = blocks[quickIndex]
const tryBlock = blocks[quickIndex + 1]?.heading === quickStart?.heading ? blocks[quickIndex + 1] : undefined
const env = newcomerEnv({ npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' })

/** `promise`, or null after `ms` (the timer cleared either way, so it holds no test open). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

let network: GroupProcess | null = null
after(async () => {
  if (network !== null && network.running()) {
    network.signal('SIGTERM')
    await within(network.exit, 30_000)
    network.signal('SIGKILL')
  }
  const lock = await claimDataDir(join(clone, 'data'), () => {}).catch(() => null) // stops services a killed atfed dev left
  lock?.release()
  rmSync(clone, { recursive: true, force: true })
})

function skipReason(block: ShellBlock): string | undefined {
  const first = withoutComment(block.commands[0] ?? '')
  return SKIPPED.find((s) => s.first.test(first))?.reason
}

test('every shell block of the README is run or skipped with a reason', () => {
  assert.ok(quickStart !== undefined, 'a shell block under a "Quick start" heading')
  assert.deepEqual(quickStart.commands.map(withoutComment), ['npm ci', 'npm start'], 'the two commands')
  assert.ok(tryBlock !== undefined, 'a second shell block in the Quick start section: the commands to look around')
  for (const block of blocks) {
    if (block === quickStart || block === tryBlock) continue
    assert.ok(skipReason(block) !== undefined, `README.md:${block.line} (${block.heading}): run this block here, or list it in SKIPPED with the reason`)
  }
  for (const command of tryBlock.commands) {
    const matches = TRY_CHECKS.filter((c) => c.command.test(withoutComment(command)))
    assert.equal(matches.length, 1, `one check in readme-try-checks.ts for: ${command}`)
  }
})

for (const block of blocks.filter((b) => skipReason(b) !== undefined)) {
  test(`README.md:${block.line}: ${block.commands[0]!.slice(0, 60)}`, { skip: skipReason(block) }, () => {})
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

test('the quick start on a fresh clone: npm ci, npm start, the look-around commands, Ctrl-C', { timeout: 12 * 60_000 }, async (t) => {
  assert.ok(quickStart !== undefined && tryBlock !== undefined)
  for (const port of Object.values(DEV_DEFAULT_PORTS)) {
    assert.ok(await portIsFree(port), `port ${port} on 127.0.0.1 is taken (an atfed dev running here?): the README's network needs it`)
  }
  const [install, start] = quickStart.commands.map(withoutComment) as [string, string]
  let began = Date.now()
  const ci = await runScript([install], { cwd: clone, env, timeoutMs: NPM_CI_TIMEOUT_MS })
  assert.equal(ci.code, 0, `${install} failed${ci.timedOut ? ' (timed out)' : ''}:\n${ci.outputs[0]?.stderr.slice(-3000)}`)
  t.diagnostic(`${install}: ${((Date.now() - began) / 1000).toFixed(1)} s`)

  began = Date.now()
  network = startGroup(start, { cwd: clone, env })
  await network.waitFor(/^atfed dev: ready/, READY_TIMEOUT_MS)
  t.diagnostic(`${start} ready: ${((Date.now() - began) / 1000).toFixed(1)} s`)
  const rows = parseDevTable(network.stdoutLines)
  for (const row of rows) await checkTableRow(row, rows)

  began = Date.now()
  const ran = await runScript(tryBlock.commands, { cwd: clone, env, timeoutMs: TRY_TIMEOUT_MS })
  const last = ran.outputs.at(-1)
  assert.equal(ran.code, 0, `README command failed${ran.timedOut ? ' (timed out)' : ''}: ${last?.command}\nstdout: ${last?.stdout.slice(-2000)}\nstderr: ${last?.stderr.slice(-2000)}`)
  assert.equal(ran.outputs.length, tryBlock.commands.length)
  const ctx: TryContext = { clone, values: new Map() }
  for (const out of ran.outputs) {
    const check = TRY_CHECKS.find((c) => c.command.test(withoutComment(out.command)))!
    await check.check(out, ctx)
  }
  t.diagnostic(`${tryBlock.commands.length} look-around commands: ${((Date.now() - began) / 1000).toFixed(1)} s`)

  network.signal('SIGINT')
  const exit = await within(network.exit, STOP_TIMEOUT_MS)
  assert.ok(exit !== null, `no exit within ${STOP_TIMEOUT_MS} ms of Ctrl-C`)
  // atfed dev exits 0 after stopping every service; npm, Ctrl-C'd too, then ends itself by the same
  // SIGINT (as in a terminal), and would print `npm error … command failed` had the script failed.
  const tail = network.stderrLines.slice(-20).join('\n')
  assert.ok((exit.code === 0 && exit.signal === null) || (exit.code === null && exit.signal === 'SIGINT'), `${JSON.stringify(exit)}\n${tail}`)
  assert.ok(network.stderrLines.includes('atfed dev: stopped'), tail)
  assert.ok(!network.stderrLines.some((l) => /^npm (error|ERR!)/.test(l)), tail)
  for (const port of Object.values(DEV_DEFAULT_PORTS)) assert.ok(await portIsFree(port), `port ${port} still taken after Ctrl-C`)
})
