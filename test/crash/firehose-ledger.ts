/**
 * What a firehose (a PDS's or the relay's subscribeRepos) has held so far,
 * checked again after every restart by replaying it from cursor 0:
 *
 * - seqs start at 1 and go up by exactly one (no gap, no repeat);
 * - every frame seen before keeps its seq and its bytes (a restart neither
 *   re-numbers nor rewrites what consumers may already have taken);
 * - each new #commit verifies with its repo's key (signature, CAR, ops
 *   inverted back to prevData: core verifyCommitEvent) and chains on that
 *   repo's previous #commit (since = previous rev, prevData = previous
 *   data), so per repo the commits are complete and in order; no commit CID
 *   appears twice.
 *
 * Only frames past the last absorbed seq are verified again; the older ones
 * are compared byte for byte, which makes a 100-kill run linear overall.
 */
import { decodeCbor } from '../../core/data/cbor.ts'
import { decodeCarWithSingleRoot } from '../../core/repo/car/decode.ts'
import { verifyCommitEvent } from '../../core/repo/verify-commit-event.ts'
import type { CommitEvent } from '../../core/stream/events.ts'
import type { CollectedEvent } from '../helpers/stream-collector.ts'
import { collectStream, eventDid } from '../helpers/stream-collector.ts'

type RepoTip = { rev: string; data: string }

export class FirehoseLedger {
  /** Frame bytes by seq (index seq - 1). */
  readonly frames: Uint8Array[] = []
  /** Every #commit, by commit CID. */
  readonly commits = new Map<string, CommitEvent>()
  /** Each repo's #commit revs in stream order. */
  readonly revs = new Map<string, string[]>()
  readonly #tips = new Map<string, RepoTip>()
  readonly #keyOf: (did: string) => Promise<string>

  constructor(keyOf: (did: string) => Promise<string>) {
    this.#keyOf = keyOf
  }

  get lastSeq(): number {
    return this.frames.length
  }

  /** Check a replay from cursor 0 against what was absorbed before, then take its new events. Returns problems. */
  async absorb(events: readonly CollectedEvent[]): Promise<string[]> {
    const problems: string[] = []
    events.forEach((e, i) => {
      if (e.seq !== i + 1) problems.push(`seq ${e.seq} at position ${i + 1} of the replay (gap or repeat)`)
    })
    if (problems.length > 0) return problems.slice(0, 5)
    if (events.length < this.frames.length) return [`the replay ends at seq ${events.length}, ${this.frames.length} were served before the kill`]
    for (let i = 0; i < this.frames.length; i++) {
      if (!Buffer.from(events[i]!.frameBytes).equals(Buffer.from(this.frames[i]!))) problems.push(`seq ${i + 1} changed across a restart`)
    }
    for (const e of events.slice(this.frames.length)) {
      this.frames.push(e.frameBytes)
      if (e.event.t !== '#commit') continue
      const problem = await this.#takeCommit(e.event)
      if (problem !== null) problems.push(`seq ${e.seq} (${eventDid(e.event)} ${e.event.rev}): ${problem}`)
    }
    return problems
  }

  async #takeCommit(event: CommitEvent): Promise<string | null> {
    const cid = event.commit.toString()
    if (this.commits.has(cid)) return `commit ${cid} is on the stream twice`
    this.commits.set(cid, event)
    let data: string
    try {
      data = verifyCommitEvent(event, { key: await this.#keyOf(event.repo) }).commit.data.toString()
    } catch (err) {
      return `does not verify: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`
    }
    const tip = this.#tips.get(event.repo)
    if (tip !== undefined && event.since !== tip.rev) return `since ${event.since}, the previous commit is ${tip.rev}`
    if (tip !== undefined && event.prevData?.toString() !== tip.data) return `prevData ${String(event.prevData)}, the previous data is ${tip.data}`
    this.#tips.set(event.repo, { rev: event.rev, data })
    const revs = this.revs.get(event.repo) ?? []
    revs.push(event.rev)
    this.revs.set(event.repo, revs)
    return null
  }
}

/** The `text` of the record a single-create #commit carries (null when it is not one). */
export function createdText(event: CommitEvent): string | null {
  const op = event.ops[0]
  if (event.ops.length !== 1 || op === undefined || op.action !== 'create' || op.cid === null) return null
  const bytes = decodeCarWithSingleRoot(event.blocks).blocks.get(op.cid)
  if (bytes === undefined) return null
  const record = decodeCbor(bytes) as { text?: unknown }
  return typeof record.text === 'string' ? record.text : null
}

/** A replay from cursor 0 until `done(events)` holds (bounded), then `quietMs` more for anything past it. */
export async function replayFromZero(url: string, done: (events: readonly CollectedEvent[]) => boolean, options: { timeoutMs: number; quietMs: number }): Promise<CollectedEvent[]> {
  const replay = collectStream(url, { cursor: 0 })
  try {
    await replay.until(() => done(replay.events), 'the replay from cursor 0 to reach the heads', options.timeoutMs)
    await new Promise((resolve) => setTimeout(resolve, options.quietMs))
    return [...replay.events]
  } finally {
    replay.close()
  }
}
