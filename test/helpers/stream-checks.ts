/**
 * Assertions over collected firehoses (stream-collector.ts), for end-to-end
 * tests of a relay against the PDSes it follows:
 * - `assertContiguous`: seqs strictly increase by exactly one (no gap, no
 *   duplicate) and the client dropped no repeated seq;
 * - `assertSameEvents`: two consumers saw the same frames for the same seqs
 *   (a live consumer vs a replay of the log after a crash: no seq reused);
 * - `repoTimeline`: one repo's #commit/#sync events as `t rev` strings in
 *   stream order, to compare a relay's stream with the PDS's own;
 * - `signingKeys`: each DID's current atproto key, from the PLC directory.
 */
import assert from 'node:assert/strict'
import type { CollectedEvent, StreamCollector } from './stream-collector.ts'
import { eventDid } from './stream-collector.ts'

export function assertContiguous(events: readonly CollectedEvent[], what: string): void {
  for (let i = 1; i < events.length; i++) {
    const [prev, next] = [events[i - 1]!.seq, events[i]!.seq]
    assert.equal(next, prev + 1, `${what}: seq ${next} after ${prev} (gap or duplicate)`)
  }
}

export function assertNoDroppedRepeats(collector: StreamCollector, what: string): void {
  assert.equal(collector.client.stats().duplicates, 0, `${what}: the server repeated a seq`)
  assert.equal(collector.error(), null, `${what}: the stream failed`)
}

/** Every seq in `part` is in `whole` with the same frame bytes. */
export function assertSameEvents(part: readonly CollectedEvent[], whole: readonly CollectedEvent[], what: string): void {
  const bySeq = new Map(whole.map((e) => [e.seq, e.frameBytes]))
  for (const e of part) {
    const other = bySeq.get(e.seq)
    assert.ok(other !== undefined, `${what}: seq ${e.seq} missing`)
    assert.ok(Buffer.from(other).equals(Buffer.from(e.frameBytes)), `${what}: seq ${e.seq} differs`)
  }
}

/** `did`'s #commit and #sync events as `t rev`, in stream order. */
export function repoTimeline(events: readonly CollectedEvent[], did: string): string[] {
  const out: string[] = []
  for (const { event } of events) {
    if ((event.t === '#commit' || event.t === '#sync') && eventDid(event) === did) out.push(`${event.t} ${event.rev}`)
  }
  return out
}

/** The `did:key` of each DID's atproto verification method, read from the PLC directory. */
export async function signingKeys(plcUrl: string, dids: Iterable<string>): Promise<Map<string, string>> {
  const keys = new Map<string, string>()
  for (const did of new Set(dids)) {
    const res = await fetch(`${plcUrl}/${did}/data`)
    assert.equal(res.status, 200, `PLC has ${did}`)
    const data = (await res.json()) as { verificationMethods: { atproto?: string } }
    assert.ok(data.verificationMethods.atproto !== undefined, `${did} has an atproto key`)
    keys.set(did, data.verificationMethods.atproto)
  }
  return keys
}
