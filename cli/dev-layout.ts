/**
 * The layout of an `atfed dev` network: which service listens where, where
 * each keeps its data, and DATA/dev.json — the state that makes a second
 * start the same network (ports, admin password, the feed publisher
 * account, what `--seed` has done).
 *
 * Ports: without `--base-port` each service takes its own default port
 * (DEV_DEFAULT_PORTS: PLC 2582, PDS 2583 and 2584, relay 2470, feed
 * generator 2585, labeler 2586); with `--base-port N` the six services take
 * N … N+5 in DEV_SERVICES order. The ports are written to dev.json at the
 * first start and read back later: a PDS's port is part of its did:web and
 * of every account's DID document, so it cannot move under existing data.
 * A later `--base-port` that gives other ports is `DevPortsMismatch`.
 *
 * dev.json holds passwords (admin, publisher, demo accounts): it is
 * written with mode 0600, whole, through a temporary file and a rename, so
 * a crash leaves the old or the new state, never half of one.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError } from '../core/errors.ts'
import { DEV_STATE_FILE_BYTES_MAX } from '../core/limits.ts'

export const DEV_SERVICES = ['plc', 'pds1', 'pds2', 'relay', 'feedgen', 'labeler'] as const
export type DevService = (typeof DEV_SERVICES)[number]
export type DevPorts = { readonly [S in DevService]: number }

export const DEV_DEFAULT_PORTS: DevPorts = { plc: 2582, pds1: 2583, pds2: 2584, relay: 2470, feedgen: 2585, labeler: 2586 }

/** `--seed` (dev-seed.ts): the keyword feed's word, and the word the labeler's demo rule labels. */
export const SEED_KEYWORD = '#atfed'
export const SEED_LABEL_WORD = 'spoiler'
/** The seed's last step; once done, `atfed dev --seed` does not load the seeding code at all. */
export const LAST_SEED_STEP = 'feeds'

export type DevAccount = { readonly did: string; readonly handle: string; readonly password: string; readonly pds: 'pds1' | 'pds2' }

export type DevState = {
  readonly version: 1
  readonly ports: DevPorts
  /** Basic-auth password (user `admin`) of both PDSes, the relay and the labeler. */
  readonly adminPassword: string
  /** The account whose repo holds the feed generator records (created at the first start). */
  readonly publisher: DevAccount | null
  /** `--seed` progress: the demo accounts made so far and the steps done (each step runs once). */
  readonly seed: { readonly accounts: { readonly [handle: string]: DevAccount }; readonly done: readonly string[] }
}

const STATE_FILE = 'dev.json'

function invalid(message: string): AtfedError<'InvalidArgument'> {
  return new AtfedError('InvalidArgument', message)
}

/** `--base-port N` → the six ports; null → the defaults. */
export function portsFor(basePort: number | null): DevPorts {
  if (basePort === null) return DEV_DEFAULT_PORTS
  const entries = DEV_SERVICES.map((service, i) => [service, basePort + i] as const)
  return Object.fromEntries(entries) as { [S in DevService]: number }
}

export function parseBasePort(text: string): number {
  const port = Number(text)
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65_535 - DEV_SERVICES.length + 1) {
    throw invalid(`--base-port must be a port from 1 to ${65_535 - DEV_SERVICES.length + 1}: ${text}`)
  }
  return port
}

export function serviceDataDir(dataDir: string, service: DevService): string {
  return join(dataDir, service)
}

export function newSecret(): string {
  return randomBytes(12).toString('base64url')
}

function corrupt(path: string, why: string): AtfedError<'DevStateCorrupt'> {
  return new AtfedError('DevStateCorrupt', `${path}: ${why} (move it away to start a new network in this directory)`)
}

function isAccount(v: unknown): v is DevAccount {
  const a = v as DevAccount | null
  return typeof a === 'object' && a !== null && typeof a.did === 'string' && typeof a.handle === 'string' &&
    typeof a.password === 'string' && (a.pds === 'pds1' || a.pds === 'pds2')
}

function checkState(path: string, raw: unknown): DevState {
  const s = raw as DevState | null
  if (typeof s !== 'object' || s === null || s.version !== 1) throw corrupt(path, 'not a version 1 state file')
  for (const service of DEV_SERVICES) {
    const port = s.ports?.[service]
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw corrupt(path, `ports.${service} is not a port`)
  }
  if (typeof s.adminPassword !== 'string' || s.adminPassword === '') throw corrupt(path, 'adminPassword missing')
  if (s.publisher !== null && !isAccount(s.publisher)) throw corrupt(path, 'publisher is not an account')
  if (typeof s.seed !== 'object' || s.seed === null || !Array.isArray(s.seed.done)) throw corrupt(path, 'seed missing')
  if (!Object.values(s.seed.accounts ?? {}).every(isAccount)) throw corrupt(path, 'seed.accounts holds a bad account')
  return s
}

/** The stored state, or null when DATA has none yet. */
export function readDevState(dataDir: string): DevState | null {
  const path = join(dataDir, STATE_FILE)
  if (!existsSync(path)) return null
  if (statSync(path).size > DEV_STATE_FILE_BYTES_MAX) throw corrupt(path, `larger than ${DEV_STATE_FILE_BYTES_MAX} bytes`)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    throw corrupt(path, 'not JSON')
  }
  return checkState(path, raw)
}

export function writeDevState(dataDir: string, state: DevState): void {
  const path = join(dataDir, STATE_FILE)
  const tmp = `${path}.tmp`
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  renameSync(tmp, path)
}

function samePorts(a: DevPorts, b: DevPorts): boolean {
  return DEV_SERVICES.every((service) => a[service] === b[service])
}

/** The stored state (checking `--base-port` against it), or a new one written now. */
export function openDevState(dataDir: string, basePort: number | null): DevState {
  const stored = readDevState(dataDir)
  if (stored !== null) {
    if (basePort !== null && !samePorts(portsFor(basePort), stored.ports)) {
      throw new AtfedError(
        'DevPortsMismatch',
        `${dataDir} holds a network on ports ${stored.ports.plc}…; start it without --base-port (or with the same one), or use another --data`,
      )
    }
    return stored
  }
  const state: DevState = { version: 1, ports: portsFor(basePort), adminPassword: newSecret(), publisher: null, seed: { accounts: {}, done: [] } }
  writeDevState(dataDir, state)
  return state
}
