/**
 * `atfed account migrate`: move an account from one PDS to another with the
 * standard flow (spec digest §5.1, what goat does), one progress line per
 * step on stderr, a JSON report on stdout.
 *
 *  1 log in to the old PDS              8 new: getRecommendedDidCredentials
 *  2 new: describeServer (service DID)  9 old: requestPlcOperationSignature
 *  3 old: getServiceAuth(createAccount) 10 the PLC token (--plc-token, the old
 *  4 new: createAccount with the DID       PDS's --dev admin route, or stdin)
 *  5 old getRepo → new importRepo       11 old: signPlcOperation
 *  6 blobs: new listMissingBlobs, old   12 new: submitPlcOperation
 *    getBlob → new uploadBlob           13 new: activateAccount
 *  7 preferences: old get → new put     14 old: deactivateAccount
 *
 * Steps 6 and 7 are best effort: a PDS without those routes (501) is
 * skipped, a blob that cannot be copied is counted as missing, and the
 * report says so; a migration does not stop for media. Any other failure
 * stops with `MigrationFailed` naming the step and the server's error.
 * Until step 12 the old PDS still hosts the account and nothing there has
 * changed; the new PDS then holds a deactivated copy (createAccount
 * refuses a DID it already has, so a re-run needs that copy gone, or the
 * remaining steps done by hand with a session on the new PDS).
 * The old session is a main-password session: signPlcOperation and
 * deactivateAccount refuse app passwords.
 */
import { ReadableStream } from 'node:stream/web'
import { AtfedError } from '../core/errors.ts'
import {
  MIGRATE_BLOB_BYTES_MAX,
  MIGRATE_BLOB_PAGES_MAX,
  MIGRATE_BLOBS_PAGE_LIMIT,
  MIGRATE_REPO_CAR_BYTES_MAX,
  MIGRATE_REPO_TRANSFER_TIMEOUT_MS,
} from '../core/limits.ts'
import { isPlcDid, type Did } from '../core/syntax/did.ts'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'
import { PlcClient } from '../did-resolver/plc/client.ts'
import type { PlcDocumentData } from '../did-resolver/plc/document.ts'
import { mergeCredentials, type DidCredentials } from './account-plc.ts'

export type MigrateOptions = {
  from: string
  to: string
  handle: string
  password: string
  newHandle?: string
  email?: string
  inviteCode?: string
  plcToken?: string
  fromAdminPassword?: string
  plc: string
  /** Asks for the PLC token when no flag gives it. */
  readToken: () => Promise<string>
  log: (line: string) => void
}

export type MigrationReport = {
  did: string
  handle: string
  from: string
  to: string
  blobs: { copied: number; failed: number; skipped: string | null }
  preferences: 'copied' | string
  plcState: 'merged' | string
}

type Session = { did: Did; handle: string; accessJwt: string; email?: string }

const TOTAL_STEPS = 14

function describe(err: unknown): string {
  if (err instanceof XrpcClientError) return `${err.error} (HTTP ${err.status}): ${err.message}`
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** 501 (or 404 from a non-atfed server): the PDS does not have the route. */
function isMissingRoute(err: unknown): boolean {
  return err instanceof XrpcClientError && (err.status === 501 || err.status === 404 || err.error === 'MethodNotImplemented')
}

class Steps {
  #n = 0
  readonly #log: (line: string) => void
  constructor(log: (line: string) => void) {
    this.#log = log
  }

  async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.#n++
    this.#log(`migrate: [${this.#n}/${TOTAL_STEPS}] ${what}`)
    try {
      return await fn()
    } catch (err) {
      throw new AtfedError('MigrationFailed', `step ${this.#n} (${what}) failed: ${describe(err)}`, { cause: err })
    }
  }

  note(line: string): void {
    this.#log(`migrate:        ${line}`)
  }
}

type Sides = { oldPds: XrpcClient; newPds: XrpcClient; auth: { token: string }; next: { token: string }; steps: Steps }
type Moved = { did: Did; handle: string; next: { token: string } }

export async function migrateAccount(opts: MigrateOptions): Promise<MigrationReport> {
  const steps = new Steps(opts.log)
  const oldPds = new XrpcClient({ service: opts.from })
  const newPds = new XrpcClient({ service: opts.to })
  const old = await steps.run(`log in to ${opts.from} as ${opts.handle}`, async () => {
    const res = await oldPds.procedure<Session>('com.atproto.server.createSession', { identifier: opts.handle, password: opts.password })
    return res.body
  })
  const moved = await createAndImport(opts, { oldPds, newPds, steps, old })
  const sides: Sides = { oldPds, newPds, auth: { token: old.accessJwt }, next: moved.next, steps }
  const blobs = await steps.run('copy missing blobs', () => copyBlobs({ ...sides, did: moved.did }))
  const preferences = await steps.run('copy preferences', () => copyPreferences(sides))
  const plcState = await moveIdentity(opts, { ...sides, did: moved.did })
  return { did: moved.did, handle: moved.handle, from: opts.from, to: opts.to, blobs, preferences, plcState }
}

/** Steps 2–5: the account on the new PDS (deactivated), with the repo. */
async function createAndImport(
  opts: MigrateOptions,
  { oldPds, newPds, steps, old }: { oldPds: XrpcClient; newPds: XrpcClient; steps: Steps; old: Session },
): Promise<Moved> {
  const auth = { token: old.accessJwt }
  const serviceDid = await steps.run(`read the service DID of ${opts.to}`, async () => {
    return (await newPds.query<{ did: string }>('com.atproto.server.describeServer')).body.did
  })
  const serviceToken = await steps.run(`get a createAccount token for ${serviceDid}`, async () => {
    const params = { aud: serviceDid, lxm: 'com.atproto.server.createAccount' }
    return (await oldPds.query<{ token: string }>('com.atproto.server.getServiceAuth', params, auth)).body.token
  })
  const handle = opts.newHandle ?? old.handle
  const email = opts.email ?? old.email
  const created = await steps.run(`create ${old.did} on ${opts.to} as ${handle} (deactivated)`, async () => {
    const input = {
      did: old.did,
      handle,
      password: opts.password,
      ...(email === undefined ? {} : { email }),
      ...(opts.inviteCode === undefined ? {} : { inviteCode: opts.inviteCode }),
    }
    return (await newPds.procedure<Session>('com.atproto.server.createAccount', input, { token: serviceToken })).body
  })
  const next = { token: created.accessJwt }
  await steps.run('copy the repo (old getRepo → new importRepo)', async () => {
    const transfer = { timeoutMs: MIGRATE_REPO_TRANSFER_TIMEOUT_MS }
    const car = await oldPds.queryStream('com.atproto.sync.getRepo', { did: old.did }, { ...auth, ...transfer, responseBytesMax: MIGRATE_REPO_CAR_BYTES_MAX })
    const body = ReadableStream.from(car.body) as unknown as globalThis.ReadableStream<Uint8Array>
    await newPds.procedure('com.atproto.repo.importRepo', body, { ...next, ...transfer, encoding: 'application/vnd.ipld.car' })
  })
  return { did: old.did, handle: created.handle, next }
}

/** Steps 8–14: the PLC update signed by the old PDS, submitted by the new one; then the switch-over. */
async function moveIdentity(opts: MigrateOptions, sides: Sides & { did: Did }): Promise<string> {
  const { oldPds, newPds, auth, next, steps, did } = sides
  const recommended = await steps.run(`get the new identity from ${opts.to}`, async () => {
    return (await newPds.query<DidCredentials>('com.atproto.identity.getRecommendedDidCredentials', {}, next)).body
  })
  await steps.run(`ask ${opts.from} for a PLC operation token`, async () => {
    await oldPds.procedure('com.atproto.identity.requestPlcOperationSignature', undefined, auth)
  })
  const token = await steps.run('read the PLC operation token', () => plcToken(opts, oldPds, did))
  const { credentials, plcState } = await withCurrentState(opts, { oldPds, auth, did, recommended, steps })
  const operation = await steps.run(`have ${opts.from} sign the PLC update`, async () => {
    const res = await oldPds.procedure<{ operation: unknown }>('com.atproto.identity.signPlcOperation', { token, ...credentials }, auth)
    return res.body.operation
  })
  await steps.run(`submit the PLC update through ${opts.to}`, async () => {
    await newPds.procedure('com.atproto.identity.submitPlcOperation', { operation }, next)
  })
  await steps.run(`activate the account on ${opts.to}`, async () => {
    await newPds.procedure('com.atproto.server.activateAccount', undefined, next)
  })
  await steps.run(`deactivate the account on ${opts.from}`, async () => {
    await oldPds.procedure('com.atproto.server.deactivateAccount', {}, auth)
  })
  return plcState
}

async function copyBlobs(sides: Sides & { did: Did }): Promise<MigrationReport['blobs']> {
  const { oldPds, newPds, did, auth, next, steps } = sides
  const report = { copied: 0, failed: 0, skipped: null as string | null }
  const failed = new Set<string>()
  let cursor: string | undefined
  for (let page = 0; page < MIGRATE_BLOB_PAGES_MAX; page++) {
    let listed: { blobs: Array<{ cid: string }>; cursor?: string }
    try {
      const params = { limit: MIGRATE_BLOBS_PAGE_LIMIT, ...(cursor === undefined ? {} : { cursor }) }
      listed = (await newPds.query<typeof listed>('com.atproto.repo.listMissingBlobs', params, next)).body
    } catch (err) {
      if (!isMissingRoute(err)) throw err
      report.skipped = 'the new PDS has no listMissingBlobs'
      steps.note(`skipped: ${report.skipped}`)
      return report
    }
    for (const { cid } of listed.blobs) {
      if (failed.has(cid)) continue
      try {
        const blob = await oldPds.query<Uint8Array>('com.atproto.sync.getBlob', { did, cid }, { ...auth, responseBytesMax: MIGRATE_BLOB_BYTES_MAX })
        await newPds.procedure('com.atproto.repo.uploadBlob', blob.body, { ...next, encoding: blob.encoding ?? 'application/octet-stream' })
        report.copied++
      } catch (err) {
        failed.add(cid)
        report.failed++
        steps.note(`blob ${cid} not copied: ${describe(err)}`)
      }
    }
    if (listed.cursor === undefined || listed.blobs.length === 0) break
    cursor = listed.cursor
  }
  steps.note(`${report.copied} blob(s) copied, ${report.failed} missing`)
  return report
}

async function copyPreferences(sides: Sides): Promise<string> {
  const { oldPds, newPds, auth, next, steps } = sides
  try {
    const prefs = await oldPds.query<{ preferences: unknown[] }>('app.bsky.actor.getPreferences', {}, auth)
    await newPds.procedure('app.bsky.actor.putPreferences', { preferences: prefs.body.preferences }, next)
    return 'copied'
  } catch (err) {
    const why = isMissingRoute(err) ? 'a PDS has no preferences routes' : describe(err)
    steps.note(`preferences skipped: ${why}`)
    return `skipped: ${why}`
  }
}

/** The PLC operation token `oldPds` issued for `did`: the flag, that PDS's --dev admin route, or the prompt. */
export async function plcToken(
  opts: Pick<MigrateOptions, 'plcToken' | 'fromAdminPassword' | 'readToken'>,
  oldPds: XrpcClient,
  did: Did,
): Promise<string> {
  if (opts.plcToken !== undefined) return opts.plcToken
  if (opts.fromAdminPassword !== undefined) {
    const basic = Buffer.from(`admin:${opts.fromAdminPassword}`).toString('base64')
    const res = await oldPds.query<{ token: string }>('dev.atfed.admin.getPlcOperationToken', { did }, { headers: { authorization: `Basic ${basic}` } })
    return res.body.token
  }
  return opts.readToken()
}

async function withCurrentState(
  opts: MigrateOptions,
  sides: { oldPds: XrpcClient; auth: { token: string }; did: Did; recommended: DidCredentials; steps: Steps },
): Promise<{ credentials: DidCredentials; plcState: string }> {
  const { oldPds, auth, did, recommended, steps } = sides
  if (!isPlcDid(did)) return { credentials: recommended, plcState: 'not a did:plc' }
  let current: PlcDocumentData
  let oldRecommended: DidCredentials
  try {
    current = await new PlcClient(opts.plc).getDocumentData(did)
    oldRecommended = (await oldPds.query<DidCredentials>('com.atproto.identity.getRecommendedDidCredentials', {}, auth)).body
  } catch (err) {
    steps.note(`could not read the current PLC state (${describe(err)}); using the new PDS's recommendation as it is`)
    return { credentials: recommended, plcState: `not read: ${describe(err)}` }
  }
  return { credentials: mergeCredentials(recommended, { current, oldRecommended }), plcState: 'merged' }
}
