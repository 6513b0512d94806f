/**
 * Deep checks of a PDS's stored state for reliability tests (group commit,
 * crash): the repo verifies from its stored head, the block store holds
 * EXACTLY the blocks reachable from it (nothing leaked, nothing missing),
 * record-block counts match the leaves, and the firehose log replays as
 * strictly increasing seqs whose #commits chain per repo (since = previous
 * rev, prevData = previous data) and verify by inversion.
 */
import assert from 'node:assert/strict'
import { cidKey, MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { decodeCommit } from '../../core/repo/commit.ts'
import { walkRepoTree } from '../../core/repo/repo-walk.ts'
import { verifyCommitEvent } from '../../core/repo/verify-commit-event.ts'
import { verifyRepoBlocks } from '../../core/repo/verify-repo.ts'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { CommitEvent, StreamEvent } from '../../core/stream/events.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PdsContext } from '../../pds/context.ts'

/** Every stored event, in log order, parsed. */
export async function storedEvents(ctx: PdsContext): Promise<StreamEvent[]> {
  const out: StreamEvent[] = []
  let after = 0
  for (;;) {
    const before = out.length
    for await (const { frameBytes } of ctx.events.read(after)) {
      const frame = parseFrame(frameBytes)
      assert.equal(frame.kind, 'message')
      if (frame.kind !== 'message' || !('seq' in frame.message)) continue
      out.push(frame.message)
      after = frame.message.seq
    }
    if (out.length === before) return out
  }
}

/** Verifies the stored repo and that stored blocks = reachable blocks; returns the record paths. */
export async function checkStoredRepo(ctx: PdsContext, did: Did): Promise<Map<string, string>> {
  const head = ctx.repos.getHead(did)
  assert.ok(head !== null, `no head for ${did}`)
  const stored = new MemoryBlockMap()
  for await (const { cid, bytes } of ctx.repos.iterateBlocks(did)) stored.set(cid, bytes)
  const account = await ctx.accounts.get(did)
  assert.ok(account !== null)
  verifyRepoBlocks(stored, head.commitCid, { did, key: ctx.signingKeys.get(account).publicKey })
  const reachable = new Set([cidKey(head.commitCid)])
  const leaves = new Map<string, string>()
  const counts = new Map<string, number>()
  for (const item of walkRepoTree(stored, head.dataCid)) {
    reachable.add(cidKey(item.cid))
    if (item.type !== 'leaf') continue
    leaves.set(item.key, item.cid.toString())
    counts.set(item.cid.toString(), (counts.get(item.cid.toString()) ?? 0) + 1)
  }
  const leaked = [...stored.cids()].filter((cid) => !reachable.has(cidKey(cid)))
  assert.deepEqual(leaked.map(String), [], 'stored blocks that nothing reaches')
  for (const [cid, n] of counts) {
    const leaf = [...stored.cids()].find((c) => c.toString() === cid)
    assert.ok(leaf !== undefined)
    assert.equal(await ctx.refs.count(did, leaf), n, `record count of ${cid}`)
  }
  return leaves
}

/**
 * Seqs strictly increase; per repo the #commits chain and verify. Returns
 * the #commit events of `did` in order.
 */
export async function checkCommitChain(ctx: PdsContext, did: Did): Promise<CommitEvent[]> {
  const events = await storedEvents(ctx)
  for (let i = 1; i < events.length; i++) assert.ok(events[i]!.seq > events[i - 1]!.seq, 'seqs strictly increase')
  const account = await ctx.accounts.get(did)
  assert.ok(account !== null)
  const key = ctx.signingKeys.get(account).publicKey.didKey
  const commits = events.filter((e): e is CommitEvent => e.t === '#commit' && e.repo === did)
  for (let i = 0; i < commits.length; i++) {
    const event = commits[i]!
    verifyCommitEvent(event, { key })
    if (i === 0) continue
    const previous = commits[i - 1]!
    assert.equal(event.since, previous.rev, `commit ${event.seq} follows ${previous.seq}`)
    const prevCommit = decodeCommit(decodeCarWithSingleRoot(previous.blocks).blocks.get(previous.commit) as Uint8Array)
    assert.ok(event.prevData?.equals(prevCommit.data), `prevData of ${event.seq}`)
  }
  const head = ctx.repos.getHead(did)
  assert.ok(head !== null && commits.length > 0 && commits[commits.length - 1]!.commit.equals(head.commitCid), 'the last #commit is the head')
  return commits
}
