/**
 * One upstream event → the ConsumerEvent a handler gets, or a typed error
 * naming why it is skipped. This is where `verify` happens:
 *
 * - `#commit`: with verify, `verifyCommitEvent` (CAR, signature by the repo's
 *   `#atproto` key, op shapes, inversion to `prevData`); the key comes from
 *   the resolver's cache and, when the signature fails, the document is
 *   fetched once more and the check repeated (a rotated key), via
 *   `IdentityResolver.verifyWithRefresh`. Without verify the CAR is still
 *   decoded (every block re-hashed) and its root must be `commit`.
 *   Then the ops are read (read-ops.ts).
 * - `#sync`: with verify, the commit in its CAR is signature-checked the same way.
 * - `#identity`: the resolver's entry for the DID is refreshed (a failure
 *   is reported, not fatal: the event still goes to the handler).
 * - `#account`: passed through.
 *
 * Errors: a verification failure is thrown as the verifier's AtfedError
 * (`BadCommitSignature`, `InversionMismatch`, `MissingBlock`, ...). Resolving
 * the key is retried FEEDGEN_RESOLVE_TRIES_MAX times for transient failures
 * (timeouts, unreachable PLC); a DID that is gone or has no key fails at once
 * (`DidNotFound`, `DidDeactivated`, `MissingSigningKey`).
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { FEEDGEN_RESOLVE_BACKOFF_MS, FEEDGEN_RESOLVE_TRIES_MAX } from '../../core/limits.ts'
import type { PublicKey } from '../../core/crypto/key-types.ts'
import type { BlockReader } from '../../core/repo/block-reader.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { verifyCommitEvent, verifySyncEvent } from '../../core/repo/verify-commit-event.ts'
import type { CommitEvent, StreamEvent } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { IdentityResolver } from '../../did-resolver/identity-resolver.ts'
import type { ConsumerEvent } from './events.ts'
import { readCommitOps } from './read-ops.ts'

export type PrepareOptions = {
  verify: boolean
  resolver: IdentityResolver | null
  collections: ReadonlySet<string> | null
  allowMissingPrevData: boolean
}

export type PreparedEvent = {
  event: ConsumerEvent
  /** Ops dropped because their record could not be read. */
  malformedOps: number
  /** The resolver refresh an `#identity` event asked for failed (the event is still handed over). */
  refreshError: unknown
}

const GONE = new Set(['DidNotFound', 'DidDeactivated', 'MissingSigningKey', 'InvalidDidDocument', 'DidDocumentMismatch'])

export async function prepareEvent(event: StreamEvent, options: PrepareOptions): Promise<PreparedEvent> {
  switch (event.t) {
    case '#commit':
      return await prepareCommit(event, options)
    case '#sync': {
      if (options.verify) await withSigningKey(requireResolver(options), event.did, (key) => verifySyncEvent(event, { key }))
      return { event: { type: 'sync', seq: event.seq, did: event.did, rev: event.rev, time: event.time }, malformedOps: 0, refreshError: null }
    }
    case '#identity': {
      let refreshError: unknown = null
      if (options.resolver !== null) await options.resolver.refresh(event.did).catch((err: unknown) => (refreshError = err ?? 'refresh failed'))
      const out = { type: 'identity', seq: event.seq, did: event.did, time: event.time, handle: event.handle } as const
      return { event: out, malformedOps: 0, refreshError }
    }
    case '#account': {
      const out = { type: 'account', seq: event.seq, did: event.did, time: event.time, active: event.active, status: event.status } as const
      return { event: out, malformedOps: 0, refreshError: null }
    }
  }
}

async function prepareCommit(event: CommitEvent, options: PrepareOptions): Promise<PreparedEvent> {
  let blocks: BlockReader
  if (options.verify) {
    const verifyOptions = { allowMissingPrevData: options.allowMissingPrevData }
    const verified = await withSigningKey(requireResolver(options), event.repo, (key) => verifyCommitEvent(event, { ...verifyOptions, key }))
    blocks = verified.blocks
  } else {
    const car = decodeCarWithSingleRoot(event.blocks)
    if (!car.root.equals(event.commit)) throw new AtfedError('CommitMismatch', `CAR root is not the event's commit`)
    blocks = car.blocks
  }
  const { ops, malformed } = readCommitOps(event, blocks, options.collections)
  const out = { type: 'commit', seq: event.seq, did: event.repo, rev: event.rev, time: event.time, ops, verified: options.verify } as const
  return { event: out, malformedOps: malformed, refreshError: null }
}

function requireResolver(options: PrepareOptions): IdentityResolver {
  if (options.resolver === null) throw new AtfedError('InvalidConfig', 'verification needs an identity resolver')
  return options.resolver
}

/**
 * Runs `verify` with the repo's signing key; a signature failure re-fetches
 * the key once (verifyWithRefresh). Transient resolver failures are retried.
 */
async function withSigningKey<T>(resolver: IdentityResolver, did: Did, verify: (key: PublicKey) => T): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let checked = false
    let result: { value: T } | null = null
    let signatureError: AtfedError | null = null
    try {
      const ok = await resolver.verifyWithRefresh(did, (key) => {
        checked = true
        try {
          result = { value: verify(key) }
          return true
        } catch (err) {
          if (!isAtfedError(err, 'BadCommitSignature')) throw err
          signatureError = err
          return false
        }
      })
      if (ok && result !== null) return (result as { value: T }).value
      throw signatureError ?? new AtfedError('MissingSigningKey', `${did} has no #atproto key`)
    } catch (err) {
      const transient = !checked && isAtfedError(err) && !GONE.has(err.name)
      if (!transient || attempt >= FEEDGEN_RESOLVE_TRIES_MAX) throw err
      await new Promise((resolve) => setTimeout(resolve, FEEDGEN_RESOLVE_BACKOFF_MS * attempt))
    }
  }
}
