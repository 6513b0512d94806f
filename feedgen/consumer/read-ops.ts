/**
 * A `#commit`'s ops as `{ action, uri, cid, record }`: the at-uri built from
 * the repo DID and the op path, the record decoded (strict DAG-CBOR) from the
 * event's CAR blocks. Synchronous and pure; verification is prepare-event.ts.
 *
 * - `collections`: ops of other collections are dropped before any decoding
 *   (a feed generator decodes 4 collections, not the whole network's).
 * - A create/update whose record block is missing from the CAR, does not
 *   decode, or is not a map is dropped and counted in `malformed` (an
 *   unverified stream may carry anything; a verified commit can still carry
 *   a record that is valid CBOR but garbage for its lexicon — that is the
 *   handler's to judge).
 * - Path syntax was checked by event-parse (`<nsid>/<rkey>`), so splitting
 *   at the first `/` is safe; both parts are still branded by their strict
 *   checks here (a failure counts as malformed, never throws).
 */
import { decodeCbor } from '../../core/data/cbor.ts'
import { asCid } from '../../core/data/cid.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import { isAtfedError } from '../../core/errors.ts'
import type { BlockReader } from '../../core/repo/block-reader.ts'
import type { CommitEvent } from '../../core/stream/events.ts'
import { formatAtUri } from '../../core/syntax/at-uri.ts'
import { isNsid } from '../../core/syntax/nsid.ts'
import { isRecordKey } from '../../core/syntax/record-key.ts'
import type { ConsumerOp } from './events.ts'

export type ReadOpsResult = { ops: ConsumerOp[]; malformed: number }

function isLexMap(value: unknown): value is LexMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return false
  return asCid(value) === null
}

function decodeRecord(bytes: Uint8Array | undefined): LexMap | null {
  if (bytes === undefined) return null
  try {
    const value = decodeCbor(bytes)
    return isLexMap(value) ? value : null
  } catch (err) {
    if (isAtfedError(err)) return null
    throw err
  }
}

export function readCommitOps(
  event: Pick<CommitEvent, 'repo' | 'ops'>,
  blocks: BlockReader,
  collections: ReadonlySet<string> | null,
): ReadOpsResult {
  const ops: ConsumerOp[] = []
  let malformed = 0
  for (const op of event.ops) {
    const slash = op.path.indexOf('/')
    const collection = op.path.slice(0, slash)
    const rkey = op.path.slice(slash + 1)
    if (collections !== null && !collections.has(collection)) continue
    if (!isNsid(collection) || !isRecordKey(rkey)) {
      malformed++
      continue
    }
    const uri = formatAtUri({ authority: event.repo, collection, rkey })
    if (op.action === 'delete' || op.cid === null) {
      ops.push({ action: 'delete', uri, collection, rkey, cid: null, record: null })
      continue
    }
    const record = decodeRecord(blocks.get(op.cid))
    if (record === null) {
      malformed++
      continue
    }
    ops.push({ action: op.action, uri, collection, rkey, cid: op.cid, record })
  }
  return { ops, malformed }
}
