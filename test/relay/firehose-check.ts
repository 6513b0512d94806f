/**
 * Checks on what the relay serves, as a downstream consumer would make them:
 * every `#commit` passes our own sync-1.1 verification (core/repo
 * verifyCommitEvent: CAR, signature by the account's key, proofs, inversion
 * to prevData), every `#sync` its commit-CAR check; and a sample is checked
 * again with the reference library: `@atproto/repo` verifyProofs (the
 * official consumer's check: signature + inclusion proofs for every op) and
 * its MST undoing the ops back to prevData (repo-writes.ts refInvert).
 */
import assert from 'node:assert/strict'
import { verifyProofs } from '@atproto/repo'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { decodeCommit } from '../../core/repo/commit.ts'
import { verifyCommitEvent, verifySyncEvent } from '../../core/repo/verify-commit-event.ts'
import type { CommitEvent } from '../../core/stream/events.ts'
import { refInvert } from '../helpers/repo-writes.ts'
import type { Received } from './relay-harness.ts'

/** Verify every repo event with our verifier; `keyOf` gives the did:key that signed it. */
export function verifyAllOurs(events: readonly Received[], keyOf: (did: string) => string): number {
  let checked = 0
  for (const { event } of events) {
    if (event.t === '#commit') verifyCommitEvent(event, { key: keyOf(event.repo) })
    else if (event.t === '#sync') verifySyncEvent(event, { key: keyOf(event.did) })
    else continue
    checked++
  }
  return checked
}

type RefClaim = Parameters<typeof verifyProofs>[1][number]

/** Re-check every `every`-th commit with @atproto/repo; returns how many were checked. */
export async function crossCheckWithReference(events: readonly Received[], keyOf: (did: string) => string, every = 5): Promise<number> {
  const commits = events.map((e) => e.event).filter((e): e is CommitEvent => e.t === '#commit')
  let checked = 0
  for (let i = 0; i < commits.length; i += every) {
    const event = commits[i] as CommitEvent
    const claims = event.ops.map((op) => {
      const slash = op.path.indexOf('/')
      return { collection: op.path.slice(0, slash), rkey: op.path.slice(slash + 1), cid: op.cid } as unknown as RefClaim
    })
    const proved = await verifyProofs(event.blocks, claims, event.repo, keyOf(event.repo))
    assert.equal(proved.unverified.length, 0, `@atproto/repo could not prove every op of ${event.repo} ${event.rev}`)
    if (event.prevData !== null) {
      const { root, blocks } = decodeCarWithSingleRoot(event.blocks)
      const commit = decodeCommit(blocks.get(root) as Uint8Array)
      assert.equal(await refInvert(event.blocks, commit.data, event.ops), event.prevData.toString(), 'reference inversion')
    }
    checked++
  }
  return checked
}

/** (did, rev) of every commit, asserting none repeats. */
export function uniqueCommits(events: readonly Received[]): Set<string> {
  const seen = new Set<string>()
  for (const { event } of events) {
    if (event.t !== '#commit') continue
    const key = `${event.repo} ${event.rev}`
    assert.ok(!seen.has(key), `duplicate commit on the relay firehose: ${key}`)
    seen.add(key)
  }
  return seen
}
