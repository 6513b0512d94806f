/**
 * Where blob metadata lives in the PDS's level db: four sublevels under
 * ['blobs', …], text keys (a DID and a CID string never contain a space, so
 * ' ' separates fields and `<did>!` ends an account's range).
 *
 *   meta     `<did> <cid>`          → BlobMeta (JSON): an uploaded blob
 *   refs     `<did> <cid> <path>`   → rev of the commit that wrote the record
 *                                     (the record_blob table: which records
 *                                     use which blob; listBlobs order)
 *   records  `<did> <path>`         → JSON array of the record's blob CIDs
 *                                     (what to drop when it changes)
 *   gc       `<deleteAfter> <did> <cid>` → '' for every blob not in use,
 *                                     ordered by deadline (zero-padded ms)
 *
 * A referenced CID may have no meta (imported records whose blobs were not
 * uploaded yet: listMissingBlobs). A meta row's `state`:
 *   temp       uploaded, never referenced since; deleted after deleteAfter
 *   permanent  some record references it (deleteAfter null; served)
 *   orphaned   the last referencing record went; deleted after deleteAfter
 * Invariant: a gc row exists exactly for the meta rows with a deleteAfter.
 */
import type { AbstractSublevel } from 'abstract-level'
import { PRESENCE_TEXT } from '../../core/presence-value.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'

export type BlobState = 'temp' | 'permanent' | 'orphaned'

export type BlobMeta = {
  readonly mimeType: string
  readonly size: number
  /** First upload, ms since the epoch. */
  readonly createdAt: number
  readonly state: BlobState
  /** When GC may delete it; null exactly when permanent. */
  readonly deleteAfter: number | null
}

export type TextSublevel = AbstractSublevel<RootDb, unknown, string, string>

export type BlobTables = {
  readonly meta: TextSublevel
  readonly refs: TextSublevel
  readonly records: TextSublevel
  readonly gc: TextSublevel
}

export function openBlobTables(db: RootDb): BlobTables {
  const table = (name: string) =>
    db.sublevel<string, string>(['blobs', name], { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as TextSublevel
  return { meta: table('meta'), refs: table('refs'), records: table('records'), gc: table('gc') }
}

/** Keys of one account's rows in a table keyed `<did> …`. */
export function accountRange(did: Did): { gt: string; lt: string } {
  return { gt: `${did} `, lt: `${did}!` }
}

export const metaKey = (did: Did, cid: string): string => `${did} ${cid}`
export const refKey = (did: Did, cid: string, path: string): string => `${did} ${cid} ${path}`
export const recordKey = (did: Did, path: string): string => `${did} ${path}`

/** Rows of one blob in `refs`. */
export function blobRefRange(did: Did, cid: string): { gt: string; lt: string } {
  return { gt: `${did} ${cid} `, lt: `${did} ${cid}!` }
}

const DEADLINE_DIGITS = 15

export function gcKey(deleteAfter: number, did: Did, cid: string): string {
  return `${String(Math.max(0, Math.floor(deleteAfter))).padStart(DEADLINE_DIGITS, '0')} ${did} ${cid}`
}

/** Upper bound (exclusive) of the gc rows due at `now`. */
export function gcDueBound(now: number): string {
  return `${String(Math.max(0, Math.floor(now)) + 1).padStart(DEADLINE_DIGITS, '0')} `
}

export function parseGcKey(key: string): { deleteAfter: number; did: Did; cid: string } | null {
  const [deadline, did, cid, extra] = key.split(' ')
  if (deadline === undefined || did === undefined || cid === undefined || extra !== undefined) return null
  return { deleteAfter: Number(deadline), did: did as Did, cid }
}

/** `<did> <cid> <path>` → its cid and path (paths contain no space). */
export function parseRefKey(key: string): { cid: string; path: string } {
  const first = key.indexOf(' ')
  const second = key.indexOf(' ', first + 1)
  return { cid: key.slice(first + 1, second), path: key.slice(second + 1) }
}

export function encodeMeta(meta: BlobMeta): string {
  return JSON.stringify(meta)
}

export function decodeMeta(text: string): BlobMeta {
  return JSON.parse(text) as BlobMeta
}

export function put(table: TextSublevel, key: string, value: string): StoreBatchOp {
  return { type: 'put', sublevel: table, key, value } as unknown as StoreBatchOp
}

export function del(table: TextSublevel, key: string): StoreBatchOp {
  return { type: 'del', sublevel: table, key } as unknown as StoreBatchOp
}

/** Ops that store `next` for a blob whose row was `prev` (null: none), keeping the gc index in step. */
export function metaOps(tables: BlobTables, at: { did: Did; cid: string }, prev: BlobMeta | null, next: BlobMeta | null): StoreBatchOp[] {
  const ops: StoreBatchOp[] = []
  if (prev?.deleteAfter != null && prev.deleteAfter !== next?.deleteAfter) ops.push(del(tables.gc, gcKey(prev.deleteAfter, at.did, at.cid)))
  if (next === null) {
    ops.push(del(tables.meta, metaKey(at.did, at.cid)))
    return ops
  }
  ops.push(put(tables.meta, metaKey(at.did, at.cid), encodeMeta(next)))
  if (next.deleteAfter !== null) ops.push(put(tables.gc, gcKey(next.deleteAfter, at.did, at.cid), PRESENCE_TEXT))
  return ops
}
