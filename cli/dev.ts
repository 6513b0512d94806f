/**
 * `atfed dev [--data DIR] [--seed] [--base-port N]` — a whole network on
 * this machine: a PLC directory, two PDSes, a relay following both, a feed
 * generator and a labeler following the relay (dev-network.ts), each a
 * child process with its level data under DATA/<service>. Prints ONE table
 * (service, URL, DID) on stdout, then `atfed dev: ready`; service output
 * goes to stderr, one `[service] …` prefix per line.
 *
 * - Same data, same network: DATA/dev.json (dev-layout.ts) keeps the ports,
 *   the admin password and the accounts; each service keeps its own keys.
 * - `--seed` (dev-seed.ts) writes demo accounts and posts, once.
 * - DATA/labeler-rules.json is written at the first start (a rule labeling
 *   posts that say "spoiler"); edit it and restart to change the rules.
 * - DATA/dev.pid (dev-lock.ts) refuses a second `atfed dev` on DATA and
 *   lets the next start stop services a killed one left running.
 * - Ctrl-C (SIGINT), SIGTERM or SIGHUP: every service gets SIGTERM (then
 *   SIGKILL after DEV_CHILD_STOP_GRACE_MS); exit 0 when all stopped
 *   cleanly. A second Ctrl-C kills them at once. A service that dies on
 *   its own stops the rest, and `atfed dev` exits 1 naming it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { XrpcClient } from '../core/xrpc/client.ts'
import { DEV_DEFAULT_PORTS, DEV_SERVICES, LAST_SEED_STEP, openDevState, parseBasePort, SEED_KEYWORD, SEED_LABEL_WORD } from './dev-layout.ts'
import { claimDataDir } from './dev-lock.ts'
import type { DataDirLock } from './dev-lock.ts'
import type { DevState } from './dev-layout.ts'
import { ServiceChild } from './dev-child.ts'
import { DevNetwork } from './dev-network.ts'
import type { RunningService } from './dev-network.ts'

type DevFlags = { data?: string; seed?: boolean; basePort?: string }

/** Where each PDS serves its admin page (pds/dashboard/routes.ts ADMIN_PAGE_PATH; the README test opens it). */
const PDS_ADMIN_PATH = '/admin'

const RULES = { rules: [{ id: 'demo-spoiler', kind: 'text', pattern: `\\b${SEED_LABEL_WORD}s?\\b`, flags: 'i', val: SEED_LABEL_WORD }] }

const log = (line: string) => void process.stderr.write(`${line}\n`)

function rulesFileIn(dataDir: string): string {
  const file = join(dataDir, 'labeler-rules.json')
  if (!existsSync(file)) writeFileSync(file, `${JSON.stringify(RULES, null, 2)}\n`)
  return file
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n')
}

/** The feeds the running feed generator serves (describeFeedGenerator): the table shows what it answers for. */
async function servedFeeds(feedgenUrl: string): Promise<string[]> {
  const res = await new XrpcClient({ service: feedgenUrl }).query<{ feeds: { uri: string }[] }>('app.bsky.feed.describeFeedGenerator')
  return res.body.feeds.map((f) => f.uri)
}

function networkTable(running: readonly RunningService[], opts: { state: DevState; dataDir: string; feeds: readonly string[] }): string {
  const { state, dataDir } = opts
  const url = (service: string) => running.find((r) => r.service === service)!.url
  const relayWs = url('relay').replace(/^http/, 'ws')
  const rows: string[][] = [['SERVICE', 'URL', 'DID']]
  for (const r of running) rows.push([r.service, r.url, r.did ?? '-'])
  rows.push(['firehose', `${relayWs}/xrpc/com.atproto.sync.subscribeRepos`, '-'], ['jetstream', `${relayWs}/subscribe`, '-'])
  rows.push(['dashboard', `${url('relay')}/`, '-'], ['pds1 admin', `${url('pds1')}${PDS_ADMIN_PATH}`, '-'], ['pds2 admin', `${url('pds2')}${PDS_ADMIN_PATH}`, '-'])
  for (const uri of opts.feeds) rows.push([`feed:${uri.slice(uri.lastIndexOf('/') + 1)}`, uri, '-'])
  return [
    `atfed dev network (data: ${dataDir})`,
    table(rows),
    `admin: user "admin", password ${state.adminPassword} (PDSes, relay, labeler); accounts and passwords: ${join(dataDir, 'dev.json')}`,
    `keyword feed: posts with ${SEED_KEYWORD}; labeler rule: posts saying "${SEED_LABEL_WORD}" get the label ${SEED_LABEL_WORD}`,
  ].join('\n')
}

async function runDev(flags: DevFlags): Promise<void> {
  const dataDir = resolve(flags.data ?? process.env['ATFED_DEV_DATA'] ?? './data')
  const basePortText = flags.basePort ?? process.env['ATFED_DEV_BASE_PORT']
  const basePort = basePortText === undefined || basePortText === '' ? null : parseBasePort(basePortText)
  mkdirSync(dataDir, { recursive: true })
  const lock = await claimDataDir(dataDir, log)
  try {
    await runNetwork(dataDir, { basePort, seed: flags.seed === true, lock })
  } finally {
    lock.release()
  }
}

async function runNetwork(dataDir: string, opts: { basePort: number | null; seed: boolean; lock: DataDirLock }): Promise<void> {
  const state = openDevState(dataDir, opts.basePort)
  const network = new DevNetwork(state, { dataDir, rulesFile: rulesFileIn(dataDir), keyword: SEED_KEYWORD, log, onChildren: opts.lock.recordChildren })
  let signalled = false
  let requestStop = (): void => {}
  const stopRequested = new Promise<'signal'>((resolve) => (requestStop = () => resolve('signal')))
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return void (log(`atfed dev: ${signal} again: killing the services`), network.kill())
    signalled = true
    log(`atfed dev: ${signal}: stopping the services (again to kill them)`)
    requestStop()
  }
  const handled: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const s of handled) process.on(s, onSignal)
  let error: unknown = null
  try {
    const up = startAndPrint(network, { dataDir, seed: opts.seed })
    up.catch(() => {}) // after a stop request its failure is expected; otherwise it is awaited below
    let first = await Promise.race([up.then(() => 'up' as const), stopRequested, network.crashed])
    if (first === 'up') first = await Promise.race([stopRequested, network.crashed])
    if (first instanceof ServiceChild) error = crashError(first)
  } catch (err) {
    if (!signalled) error = err
  }
  const report = await network.stop()
  for (const s of handled) process.off(s, onSignal)
  if (error !== null) throw error
  if (!report.clean) throw new AtfedError('DevStopFailed', report.problems.join('; '))
  log('atfed dev: stopped')
}

function crashError(child: ServiceChild): AtfedError<'DevServiceFailed'> {
  const { code, signal } = child.exit ?? { code: null, signal: null }
  return new AtfedError('DevServiceFailed', `${child.name} exited on its own (${signal ?? `code ${code}`}); its output is above`)
}

/**
 * Start, seed if asked, then print the table. dev-seed.ts (with the feed
 * modules it publishes) is loaded only while there is seeding left to do.
 */
async function startAndPrint(network: DevNetwork, opts: { dataDir: string; seed: boolean }): Promise<void> {
  const running = await network.start()
  const byService = new Map(running.map((r) => [r.service, r]))
  if (opts.seed && !network.state.seed.done.includes(LAST_SEED_STEP)) {
    const { seedNetwork } = await import('./dev-seed.ts')
    const next = await seedNetwork(network.state, {
      dataDir: opts.dataDir,
      pdsUrls: { pds1: byService.get('pds1')!.url, pds2: byService.get('pds2')!.url },
      feedgenDid: byService.get('feedgen')!.did!,
      log,
    })
    network.setState(next)
  }
  const feeds = await servedFeeds(byService.get('feedgen')!.url)
  const table = networkTable(running, { state: network.state, dataDir: opts.dataDir, feeds })
  process.stdout.write(`${table}\natfed dev: ready (Ctrl-C stops every service)\n`)
}

export function registerDevCommands(program: Command): void {
  const ports = DEV_SERVICES.map((s) => `${s} ${DEV_DEFAULT_PORTS[s]}`).join(', ')
  program
    .command('dev')
    .description('run a whole network here: PLC, two PDSes, relay, feed generator, labeler (Ctrl-C stops it)')
    .option('--data <dir>', 'data directory; a second start resumes it (env ATFED_DEV_DATA, default ./data)')
    .option('--seed', 'create demo accounts, posts, follows, likes, an image and the feed records (once)')
    .option('--base-port <n>', `ports N…N+5 for ${DEV_SERVICES.join(', ')} (env ATFED_DEV_BASE_PORT)`)
    .addHelpText(
      'after',
      `\nDefault ports: ${ports}.\n` +
        'The ports are stored in DATA/dev.json at the first start and reused (a PDS port is part of its identity).\n' +
        'Every service runs as `node bin/atfed.js <service> …` in dev mode on 127.0.0.1; its output is on stderr as [service] lines.',
    )
    .action((flags: DevFlags) => runDev(flags))
}
