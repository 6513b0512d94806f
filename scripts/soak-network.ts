/**
 * The soak's network: four real `node bin/atfed.js …` child processes on
 * loopback — a PLC directory, one PDS (rate limits off), a relay following
 * that PDS by `--host`, and a feed generator following the relay's
 * firehose with a keyword feed on SOAK_KEYWORD — each in its own data dir
 * under `root`. Start order is the data-flow order, so each service finds
 * the one it follows already answering.
 *
 * Each child preloads soak-probe.js (NODE_OPTIONS), which writes its
 * process.memoryUsage() to `probeDir(root)/<pid>.json` every second.
 *
 * Every child is tracked by the watchdog helper (so a hung test file still
 * kills them) and killed by `close()`; a start-up failure kills the ones
 * already started before rethrowing. `crashed()` names every child that
 * exited while the soak still needed it.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { freePort, spawnAtfed } from '../test/helpers/atfed-child.ts'
import type { AtfedChild } from '../test/helpers/atfed-child.ts'
import { trackProcessGroup, untrackProcessGroup } from '../test/helpers/watchdog.ts'

export const SOAK_KEYWORD = 'soakword'
export const SOAK_PROCESSES = ['plc', 'pds', 'relay', 'feedgen'] as const
export type SoakProcess = (typeof SOAK_PROCESSES)[number]

const LISTENING = / listening on (http:\/\/\S+)/

export type SoakNetwork = {
  readonly urls: Record<SoakProcess, string>
  readonly pids: Record<SoakProcess, number>
  /** Children that exited before `close()`, with their last stderr line. */
  crashed(): string[]
  close(): Promise<void>
}

/** The probe preloaded into every child (memory figures, heap snapshots on SIGUSR2). */
const PROBE = pathToFileURL(new URL('./soak-probe.js', import.meta.url).pathname).href

export type SoakNetworkOptions = {
  /** Extra environment for every child (e.g. MALLOC_ARENA_MAX=2 to compare allocators). */
  env?: Record<string, string>
}

/** Where each child's probe writes `<pid>.json` (and heap snapshots). */
export function probeDir(root: string): string {
  return join(root, 'probe')
}

export async function startSoakNetwork(root: string, options: SoakNetworkOptions = {}): Promise<SoakNetwork> {
  mkdirSync(probeDir(root), { recursive: true })
  const probeEnv = {
    ATFED_SOAK_PROBE_DIR: probeDir(root),
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PROBE}`.trim(),
    ...options.env,
  }
  const children = new Map<SoakProcess, AtfedChild>()
  let closing = false
  const exits: string[] = []
  const start = async (name: SoakProcess, args: string[], env: Record<string, string> = {}): Promise<AtfedChild> => {
    const child = await spawnAtfed(args, { ready: LISTENING, env: { ...probeEnv, ...env } })
    trackProcessGroup(child.child.pid)
    children.set(name, child)
    child.child.once('exit', (code, signal) => {
      if (!closing) exits.push(`${name} exited (${signal ?? code}): ${child.stderr.at(-1) ?? ''}`)
    })
    return child
  }
  const close = async (): Promise<void> => {
    closing = true
    await Promise.all([...children.values()].map(async (c) => {
      await c.kill('SIGKILL')
      untrackProcessGroup(c.child.pid)
    }))
  }
  try {
    const [plcPort, pdsPort, relayPort, feedgenPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()])
    const plc = await start('plc', ['plc', '--port', String(plcPort), '--data', join(root, 'plc')])
    const pds = await start('pds', ['pds', '--port', String(pdsPort), '--data', join(root, 'pds'), '--plc', plc.url, '--dev'],
      { ATFED_PDS_RATE_LIMITS: 'false' })
    const relay = await start('relay', ['relay', '--port', String(relayPort), '--data', join(root, 'relay'), '--plc', plc.url, '--dev', '--host', pds.url])
    const feedgen = await start('feedgen', ['feedgen', '--port', String(feedgenPort), '--data', join(root, 'feedgen'),
      '--relay', relay.url.replace(/^http/, 'ws'), '--plc', plc.url, '--hostname', `localhost:${feedgenPort}`, '--keyword', SOAK_KEYWORD, '--dev'])
    const byName = (f: (c: AtfedChild) => string | number) => ({ plc: f(plc), pds: f(pds), relay: f(relay), feedgen: f(feedgen) })
    return {
      urls: byName((c) => c.url) as Record<SoakProcess, string>,
      pids: byName((c) => c.child.pid!) as Record<SoakProcess, number>,
      crashed: () => exits.slice(),
      close,
    }
  } catch (err) {
    await close()
    throw err
  }
}
