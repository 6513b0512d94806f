/**
 * Repo commit objects, format version 3: `{did, version: 3, data, rev, prev, sig}`.
 *
 * Signing: DAG-CBOR-encode the five unsigned fields (keys sort to did, rev,
 * data, prev, version), sign those bytes (the keypair hashes them with
 * SHA-256 once), add `sig`, encode again; the commit CID is the hash of the
 * signed encoding. Verifying re-encodes without `sig`. Because our decoder
 * only accepts canonical DAG-CBOR, re-encoding a decoded commit gives back
 * exactly the bytes that were signed.
 *
 * Tricky bits:
 * - `prev` is always present, as null in practice. An absent `prev` changes
 *   the signed bytes (the classic interop break), so `decodeCommit` rejects it.
 * - Only version 3 is accepted. Version 2 commits (rev optional) predate the
 *   2023 repo migration and are not produced or served by any live PDS; a
 *   CAR holding one is 'InvalidCommit' here.
 * - Revs are TIDs compared as strings (fixed width, sortable alphabet).
 *   Consumers drop revs more than FUTURE_REV_TOLERANCE_MS in the future.
 */
import { AtfedError, isAtfedError } from '../errors.ts'
import { FUTURE_REV_TOLERANCE_MS, REPO_VERSION } from '../limits.ts'
import { decodeCbor, encodeCbor } from '../data/cbor.ts'
import { asCid, cidForCbor, DAG_CBOR_CODEC, isBlessedCid } from '../data/cid.ts'
import type { CID } from '../data/cid.ts'
import type { Keypair } from '../crypto/keypair.ts'
import { SIGNATURE_BYTES } from '../crypto/key-types.ts'
import type { PublicKey } from '../crypto/key-types.ts'
import { verifySignature } from '../crypto/verify.ts'
import { isDid } from '../syntax/did.ts'
import type { Did } from '../syntax/did.ts'
import { isTid, tidToTimestampUs } from '../syntax/tid.ts'
import type { Tid } from '../syntax/tid.ts'

export type UnsignedCommit = { did: Did; version: 3; data: CID; rev: Tid; prev: CID | null }
export type SignedCommit = UnsignedCommit & { sig: Uint8Array }
export type EncodedCommit = { commit: SignedCommit; bytes: Uint8Array; cid: CID }

const COMMIT_KEYS = ['data', 'did', 'prev', 'rev', 'sig', 'version']

/** The bytes that are signed: the five unsigned fields, nothing else. */
export function encodeUnsignedCommit(commit: UnsignedCommit): Uint8Array {
  const { did, version, data, rev, prev } = commit
  return encodeCbor({ did, version, data, rev, prev })
}

export function signCommit(unsigned: UnsignedCommit, keypair: Keypair): EncodedCommit {
  const sig = keypair.sign(encodeUnsignedCommit(unsigned))
  const { did, version, data, rev, prev } = unsigned
  const commit: SignedCommit = { did, version, data, rev, prev, sig }
  const bytes = encodeCbor(commit)
  return { commit, bytes, cid: cidForCbor(bytes) }
}

/** Strict decode of a commit block; anything off is 'InvalidCommit'. */
export function decodeCommit(bytes: Uint8Array): SignedCommit {
  let value: unknown
  try {
    value = decodeCbor(bytes)
  } catch (err) {
    if (!isAtfedError(err)) throw err
    throw invalid('commit block is not valid DAG-CBOR', err)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalid('commit is not a map')
  }
  const keys = Object.keys(value).sort()
  if (keys.length !== COMMIT_KEYS.length || keys.some((key, i) => key !== COMMIT_KEYS[i])) {
    throw invalid(`commit must have exactly the fields ${COMMIT_KEYS.join(', ')}`)
  }
  const fields = value as Record<string, unknown>
  if (fields.version !== REPO_VERSION) throw invalid(`unsupported commit version ${String(fields.version)}`)
  if (!isDid(fields.did)) throw invalid('commit did is not a DID')
  if (!isTid(fields.rev)) throw invalid('commit rev is not a TID')
  const sig = fields.sig
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES) {
    throw invalid(`commit sig must be ${SIGNATURE_BYTES} bytes`)
  }
  const data = commitLink(fields.data, 'data')
  const prev = fields.prev === null ? null : commitLink(fields.prev, 'prev')
  return { did: fields.did, version: 3, data, rev: fields.rev, prev, sig }
}

/**
 * True when `sig` is a valid strict (low-S, compact) signature by `key` over
 * the unsigned commit. A malformed did:key string throws 'InvalidDidKey'.
 */
export function verifyCommitSignature(commit: SignedCommit, key: PublicKey | string): boolean {
  return verifySignature(key, encodeUnsignedCommit(commit), commit.sig)
}

/** 'RevNotIncreasing' unless `rev` is strictly after `prevRev` (null: first commit). */
export function checkRevAdvances(prevRev: Tid | null, rev: Tid): void {
  if (prevRev !== null && rev <= prevRev) {
    throw new AtfedError('RevNotIncreasing', `rev ${rev} is not after the previous rev ${prevRev}`)
  }
}

/** 'FutureRev' when `rev` is more than FUTURE_REV_TOLERANCE_MS ahead of `nowMs`. */
export function checkRevNotFuture(rev: Tid, nowMs: number): void {
  const revMs = tidToTimestampUs(rev) / 1000
  if (revMs > nowMs + FUTURE_REV_TOLERANCE_MS) {
    throw new AtfedError('FutureRev', `rev ${rev} is ${Math.round(revMs - nowMs)} ms in the future`)
  }
}

function commitLink(value: unknown, field: string): CID {
  const cid = asCid(value)
  if (cid === null || !isBlessedCid(cid) || cid.code !== DAG_CBOR_CODEC) {
    throw invalid(`commit ${field} must be a dag-cbor sha2-256 CIDv1 link`)
  }
  return cid
}

function invalid(message: string, cause?: unknown): AtfedError<'InvalidCommit'> {
  return new AtfedError('InvalidCommit', message, cause === undefined ? undefined : { cause })
}
