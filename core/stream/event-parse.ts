/**
 * Strict validation of incoming stream payloads into the typed events of
 * events.ts. Every failure is an `InvalidEventError` (name `InvalidEvent`)
 * whose `field` names the offending field (`ops[3].prev`, `blocks`, ...).
 *
 * Always checked: field types; `seq` in 1..STREAM_SEQ_MAX; DID (generic
 * syntax), TID and datetime syntax; CIDs are blessed (v1, sha2-256, 32-byte
 * digest); `#commit.blocks` non-empty and <= COMMIT_BLOCKS_BYTES_MAX;
 * `#sync.blocks` non-empty and <= SYNC_BLOCKS_BYTES_MAX; ops <= COMMIT_OPS_MAX,
 * each op's shape for its action (create: no prev; update: prev != cid;
 * delete: cid null), path = `<nsid>/<rkey>`, no path twice; `rebase` and
 * `tooBig` are false; `since` present (null allowed); `prevData` absent or a
 * CID (null is refused: the spec says omit it).
 * Not checked here: the CAR inside `blocks`, signatures, inversion, rev
 * ordering against stored state (that is the verifier's job).
 *
 * Unknown fields are ignored and dropped (the relay forwards known fields
 * only). An unknown `#account.status` becomes `null`: the lexicon's value set
 * is open, and `active` still carries the meaning. Unknown `t` → null.
 */
import { AtfedError } from '../errors.ts'
import { COMMIT_BLOCKS_BYTES_MAX, COMMIT_OPS_MAX, STREAM_SEQ_MAX, SYNC_BLOCKS_BYTES_MAX } from '../limits.ts'
import { asCid, isBlessedCid } from '../data/cid.ts'
import type { CID } from '../data/cid.ts'
import type { LexMap, LexValue } from '../data/cbor.ts'
import { isDatetime } from '../syntax/datetime.ts'
import type { Datetime } from '../syntax/datetime.ts'
import { isDid } from '../syntax/did.ts'
import type { Did } from '../syntax/did.ts'
import { isHandleSyntax } from '../syntax/handle.ts'
import type { Handle } from '../syntax/handle.ts'
import { isNsidSyntax } from '../syntax/nsid.ts'
import { isRecordKey } from '../syntax/record-key.ts'
import { isTid } from '../syntax/tid.ts'
import type { Tid } from '../syntax/tid.ts'
import { ACCOUNT_STATUSES } from './events.ts'
import type { AccountEvent, AccountStatus, CommitEvent, IdentityEvent, InfoMessage, RepoOp, StreamMessage, SyncEvent } from './events.ts'
import { decodeFrame, isMap } from './frames.ts'

export class InvalidEventError extends AtfedError<'InvalidEvent'> {
  /** The offending field, e.g. `ops[2].path`. Stable API, like the name. */
  readonly field: string
  constructor(field: string, message: string) {
    super('InvalidEvent', `${field}: ${message}`)
    this.field = field
  }
}

function bad(field: string, message: string): InvalidEventError {
  return new InvalidEventError(field, message)
}

function seqOf(p: LexMap): number {
  const seq = p.seq
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || seq > STREAM_SEQ_MAX) {
    throw bad('seq', 'must be an integer from 1 to 2^53-1')
  }
  return seq
}

function didAt(p: LexMap, field: string): Did {
  const v = p[field]
  if (!isDid(v)) throw bad(field, 'must be a DID')
  return v
}

function tidAt(p: LexMap, field: string): Tid {
  const v = p[field]
  if (!isTid(v)) throw bad(field, 'must be a TID')
  return v
}

function timeOf(p: LexMap): Datetime {
  const v = p.time
  if (!isDatetime(v)) throw bad('time', 'must be a datetime')
  return v
}

function cidValue(v: LexValue | undefined, field: string): CID {
  const cid = v === undefined ? null : asCid(v)
  if (cid === null) throw bad(field, 'must be a CID link')
  if (!isBlessedCid(cid)) throw bad(field, 'must be a CIDv1 with a sha2-256 hash')
  return cid
}

function bytesAt(p: LexMap, field: string, bytesMax: number): Uint8Array {
  const v = p[field]
  if (!(v instanceof Uint8Array)) throw bad(field, 'must be bytes')
  if (v.length === 0) throw bad(field, 'must not be empty')
  if (v.length > bytesMax) throw bad(field, `is ${v.length} bytes, over the ${bytesMax}-byte limit`)
  return v
}

function isRepoPath(v: LexValue | undefined): v is string {
  if (typeof v !== 'string') return false
  const slash = v.indexOf('/')
  return slash > 0 && isNsidSyntax(v.slice(0, slash)) && isRecordKey(v.slice(slash + 1))
}

function parseOp(v: LexValue, at: string): RepoOp {
  if (!isMap(v)) throw bad(at, 'must be a map')
  const { action, path } = v
  if (action !== 'create' && action !== 'update' && action !== 'delete') {
    throw bad(`${at}.action`, 'must be create, update or delete')
  }
  if (!isRepoPath(path)) throw bad(`${at}.path`, 'must be <collection>/<rkey>')
  if (!('cid' in v)) throw bad(`${at}.cid`, 'must be present (null for a delete)')
  if (action === 'delete') {
    if (v.cid !== null) throw bad(`${at}.cid`, 'must be null for a delete')
    return { action, path, cid: null, prev: cidValue(v.prev, `${at}.prev`) }
  }
  const cid = cidValue(v.cid, `${at}.cid`)
  if (action === 'create') {
    if (v.prev !== undefined) throw bad(`${at}.prev`, 'must be absent for a create')
    return { action, path, cid, prev: null }
  }
  const prev = cidValue(v.prev, `${at}.prev`)
  if (prev.equals(cid)) throw bad(`${at}.prev`, 'an update must change the record (prev equals cid)')
  return { action, path, cid, prev }
}

function parseOps(v: LexValue | undefined): RepoOp[] {
  if (!Array.isArray(v)) throw bad('ops', 'must be an array')
  if (v.length > COMMIT_OPS_MAX) throw bad('ops', `has ${v.length} entries, over the limit of ${COMMIT_OPS_MAX}`)
  const seen = new Set<string>()
  return v.map((item, i) => {
    const op = parseOp(item, `ops[${i}]`)
    if (seen.has(op.path)) throw bad(`ops[${i}].path`, 'appears twice in one commit')
    seen.add(op.path)
    return op
  })
}

function checkDeprecated(p: LexMap): void {
  if (p.rebase !== false) throw bad('rebase', 'must be false (deprecated)')
  if (p.tooBig !== false) throw bad('tooBig', 'must be false (deprecated)')
  const blobs = p.blobs
  if (!Array.isArray(blobs)) throw bad('blobs', 'must be an array (deprecated, normally empty)')
  blobs.forEach((b, i) => cidValue(b, `blobs[${i}]`))
}

export function parseCommitEvent(p: LexMap): CommitEvent {
  const seq = seqOf(p)
  const repo = didAt(p, 'repo')
  const commit = cidValue(p.commit, 'commit')
  const rev = tidAt(p, 'rev')
  if (!('since' in p)) throw bad('since', 'must be present (null for a first commit)')
  const since = p.since === null ? null : tidAt(p, 'since')
  const blocks = bytesAt(p, 'blocks', COMMIT_BLOCKS_BYTES_MAX)
  const ops = parseOps(p.ops)
  checkDeprecated(p)
  const prevData = p.prevData === undefined ? null : cidValue(p.prevData, 'prevData')
  const time = timeOf(p)
  return { t: '#commit', seq, repo, commit, rev, since, blocks, ops, prevData, time }
}

export function parseSyncEvent(p: LexMap): SyncEvent {
  const seq = seqOf(p)
  const did = didAt(p, 'did')
  const rev = tidAt(p, 'rev')
  const blocks = bytesAt(p, 'blocks', SYNC_BLOCKS_BYTES_MAX)
  return { t: '#sync', seq, did, rev, blocks, time: timeOf(p) }
}

export function parseIdentityEvent(p: LexMap): IdentityEvent {
  const seq = seqOf(p)
  const did = didAt(p, 'did')
  const time = timeOf(p)
  const h = p.handle
  if (h !== undefined && !isHandleSyntax(h)) throw bad('handle', 'must be a handle')
  const handle = h === undefined ? null : (h.toLowerCase() as Handle)
  return { t: '#identity', seq, did, time, handle }
}

export function parseAccountEvent(p: LexMap): AccountEvent {
  const seq = seqOf(p)
  const did = didAt(p, 'did')
  const time = timeOf(p)
  if (typeof p.active !== 'boolean') throw bad('active', 'must be a boolean')
  const s = p.status
  if (s !== undefined && typeof s !== 'string') throw bad('status', 'must be a string')
  const status = (ACCOUNT_STATUSES as readonly string[]).includes(s as string) ? (s as AccountStatus) : null
  return { t: '#account', seq, did, time, active: p.active, status }
}

export function parseInfoMessage(p: LexMap): InfoMessage {
  if (typeof p.name !== 'string') throw bad('name', 'must be a string')
  const m = p.message
  if (m !== undefined && typeof m !== 'string') throw bad('message', 'must be a string')
  return { t: '#info', name: p.name, message: m ?? null }
}

/** A typed message for header type `t`, or null for a type we do not know (consumers ignore those). */
export function parseStreamMessage(t: string, payload: LexMap): StreamMessage | null {
  switch (t) {
    case '#commit':
      return parseCommitEvent(payload)
    case '#sync':
      return parseSyncEvent(payload)
    case '#identity':
      return parseIdentityEvent(payload)
    case '#account':
      return parseAccountEvent(payload)
    case '#info':
      return parseInfoMessage(payload)
    default:
      return null
  }
}

export type ParsedFrame =
  | { kind: 'message'; message: StreamMessage }
  | { kind: 'error'; error: string; message: string | null }
  | { kind: 'unknown' }

/**
 * Decode and validate one frame. Throws `FrameTooLarge` / `InvalidFrame`
 * (fatal to a connection) or `InvalidEvent` (one bad event).
 */
export function parseFrame(bytes: Uint8Array): ParsedFrame {
  const frame = decodeFrame(bytes)
  switch (frame.kind) {
    case 'message': {
      const message = parseStreamMessage(frame.t, frame.payload)
      return message === null ? { kind: 'unknown' } : { kind: 'message', message }
    }
    case 'error':
      return { kind: 'error', error: frame.error, message: frame.message ?? null }
    case 'unknown':
      return { kind: 'unknown' }
  }
}
