/**
 * What scripts/ref-pds-migration.ts checks after each move: a snapshot of
 * the account on the PDS it leaves, compared with what the PDS it moved to
 * serves, plus the PLC document and the old side's deactivation. Each check
 * prints PASS/FAIL on stderr; `checkMoved` returns the failures.
 */
import { createHash } from 'node:crypto'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'

export type Snapshot = {
  did: string
  accessJwt: string
  records: Map<string, string>
  blobs: Map<string, string>
  preferences: string | null
}

type Login = { identifier: string; password: string }
type Session = { did: string; handle: string; accessJwt: string }

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

async function login(pds: XrpcClient, who: Login): Promise<Session> {
  return (await pds.procedure<Session>('com.atproto.server.createSession', who)).body
}

async function listAll(pds: XrpcClient, did: string): Promise<Map<string, string>> {
  const records = new Map<string, string>()
  const repo = (await pds.query<{ collections: string[] }>('com.atproto.repo.describeRepo', { repo: did })).body
  for (const collection of repo.collections) {
    let cursor: string | undefined
    do {
      const params = { repo: did, collection, limit: 100, ...(cursor === undefined ? {} : { cursor }) }
      const page = (await pds.query<{ records: Array<{ uri: string; cid: string }>; cursor?: string }>('com.atproto.repo.listRecords', params)).body
      for (const r of page.records) records.set(r.uri, r.cid)
      cursor = page.records.length === 0 ? undefined : page.cursor
    } while (cursor !== undefined)
  }
  return records
}

async function blobHashes(pds: XrpcClient, did: string, token: string): Promise<Map<string, string>> {
  const blobs = new Map<string, string>()
  const listed = (await pds.query<{ cids: string[] }>('com.atproto.sync.listBlobs', { did, limit: 500 }, { token })).body
  for (const cid of listed.cids) {
    const res = await pds.query<Uint8Array>('com.atproto.sync.getBlob', { did, cid }, { token })
    blobs.set(cid, sha(res.body))
  }
  return blobs
}

export async function snapshot(pdsUrl: string, who: Login): Promise<Snapshot> {
  const pds = new XrpcClient({ service: pdsUrl })
  const session = await login(pds, who)
  const token = session.accessJwt
  return {
    did: session.did,
    accessJwt: token,
    records: await listAll(pds, session.did),
    blobs: await blobHashes(pds, session.did, token),
    preferences: await preferencesOf(pds, token),
  }
}

/** JSON of the preferences, or null where the PDS has none to give (the reference without an AppView). */
async function preferencesOf(pds: XrpcClient, token: string): Promise<string | null> {
  try {
    return JSON.stringify((await pds.query<{ preferences: unknown[] }>('app.bsky.actor.getPreferences', {}, { token })).body.preferences)
  } catch {
    return null
  }
}

type Status = { activated: boolean; validDid: boolean; indexedRecords: number; expectedBlobs: number; importedBlobs: number; repoBlocks: number }

function same(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v)
}

export async function checkMoved(options: { before: Snapshot; from: string; to: string; plc: string; password: string; label: string }): Promise<string[]> {
  const { before, label } = options
  const failures: string[] = []
  const check = (name: string, ok: boolean, detail: string) => {
    process.stderr.write(`${ok ? 'PASS' : 'FAIL'} ${label}: ${name} — ${detail}\n`)
    if (!ok) failures.push(`${label}: ${name} — ${detail}`)
  }
  const to = new XrpcClient({ service: options.to })
  const from = new XrpcClient({ service: options.from })
  const session = await login(to, { identifier: before.did, password: options.password })
  const token = session.accessJwt
  const status = (await to.query<Status>('com.atproto.server.checkAccountStatus', {}, { token })).body
  check('checkAccountStatus', status.activated && status.validDid, JSON.stringify(status))
  check('record count', status.indexedRecords === before.records.size, `${status.indexedRecords} indexed, ${before.records.size} before`)
  check('blob count', status.importedBlobs === before.blobs.size && status.expectedBlobs === before.blobs.size, `${status.importedBlobs}/${status.expectedBlobs} imported, ${before.blobs.size} before`)
  const records = await listAll(to, before.did)
  check('every record, same CID', same(records, before.records), `${records.size} listed, ${before.records.size} before`)
  const blobs = await blobHashes(to, before.did, token)
  check('blob bytes', same(blobs, before.blobs), `${blobs.size} blob(s), sha-256 equal to the old PDS's`)
  const preferences = await preferencesOf(to, token)
  // The reference serves preferences only with an AppView configured; the runner has none.
  if (before.preferences === null || preferences === null) process.stderr.write(`SKIP ${label}: preferences — a side serves none\n`)
  else check('preferences', preferences === before.preferences, preferences)

  const doc = (await (await fetch(`${options.plc}/${before.did}/data`)).json()) as {
    services: { atproto_pds?: { endpoint: string } }
    verificationMethods: { atproto?: string }
  }
  const recommended = (await to.query<{ verificationMethods: { atproto: string } }>('com.atproto.identity.getRecommendedDidCredentials', {}, { token })).body
  check('PLC endpoint', doc.services.atproto_pds?.endpoint === options.to, String(doc.services.atproto_pds?.endpoint))
  check('PLC signing key', doc.verificationMethods.atproto === recommended.verificationMethods.atproto, String(doc.verificationMethods.atproto))

  const post = { $type: 'app.bsky.feed.post', text: `after the move (${label})`, createdAt: new Date().toISOString() }
  const created = await to.procedure<{ uri: string }>('com.atproto.repo.createRecord', { repo: before.did, collection: 'app.bsky.feed.post', record: post }, { token })
  check('new post on the new PDS', created.status === 200, created.body.uri)

  const oldStatus = (await from.query<Status>('com.atproto.server.checkAccountStatus', {}, { token: before.accessJwt })).body
  check('old PDS: deactivated', !oldStatus.activated, JSON.stringify({ activated: oldStatus.activated }))
  let refused = 'accepted'
  try {
    await from.procedure('com.atproto.repo.createRecord', { repo: before.did, collection: 'app.bsky.feed.post', record: post }, { token: before.accessJwt })
  } catch (err) {
    refused = err instanceof XrpcClientError ? `${err.status} ${err.error}` : String(err)
  }
  check('old PDS: write refused', refused !== 'accepted', refused)
  return failures
}
