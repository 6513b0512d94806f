/**
 * A recorded firehose for the feedgen and labeler bench sections: real signed
 * #commit frames (seqs 1..n) from `repos` accounts registered in a PLC
 * directory (test/helpers/feed-accounts.ts: each write is a commit of an
 * in-memory repo, signed with the account's k256 key, with the blocks sync
 * 1.1 asks for).
 *
 * The mix, drawn from a seeded PRNG: 50% posts (a third carry `#atfed`, so
 * the keyword feed has work), 30% likes, 5% reposts, 15% follows, after a
 * first stretch in which account 0 (the bench's viewer) follows every other
 * account, so its `following` feed merges `repos - 1` authors, a typical
 * timeline. `labelerMix` makes a post-only stream in which a third of the
 * texts match the labeler bench's rules.
 *
 * `keys` maps each DID to its did:key: the warm DID cache a reference
 * consumer is given. Frames and keys are written to a directory so the
 * reference side of the same run (another child process) replays exactly
 * the same bytes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { encodeEventFrame, withSeq } from '../core/stream/events.ts'
import type { UnsequencedEvent } from '../core/stream/events.ts'
import { TestAccount } from '../test/helpers/feed-accounts.ts'
import type { StrongRef } from '../test/helpers/feed-accounts.ts'
import { makeRng } from '../test/helpers/prng.ts'
import { readFrames, writeFrames } from './relay-data.ts'

export type RecordedStream = {
  frames: Uint8Array[]
  accounts: TestAccount[]
  /** DID → did:key of its #atproto key. */
  keys: Map<string, string>
}

export type StreamShape = { repos: number; events: number; mix: 'feed' | 'labeler' }

const SPICY = ['get FREE crypto today', 'best casino in town', 'late night #nsfw']

function feedEvents(accounts: readonly TestAccount[], events: number, seed: number): UnsequencedEvent[] {
  const rng = makeRng(seed)
  const out: UnsequencedEvent[] = []
  const viewer = accounts[0] as TestAccount
  for (const other of accounts.slice(1)) out.push(viewer.follow(other.did).event)
  const posts: StrongRef[] = []
  while (out.length < events) {
    const who = rng.pick(accounts)
    const roll = rng.next()
    if (roll < 0.5 || posts.length === 0) {
      const p = who.post(`post ${out.length} about things ${rng.int(1000)}${rng.int(3) === 0 ? ' #atfed' : ''}`)
      posts.push(p)
      out.push(p.event)
    } else if (roll < 0.8) out.push(who.like(rng.pick(posts)).event)
    else if (roll < 0.85) out.push(who.repost(rng.pick(posts)).event)
    else out.push(who.follow(rng.pick(accounts).did).event)
  }
  return out
}

function labelerEvents(accounts: readonly TestAccount[], events: number, seed: number): UnsequencedEvent[] {
  const rng = makeRng(seed)
  const out: UnsequencedEvent[] = []
  for (let i = 0; i < events; i++) {
    const text = rng.int(3) === 0 ? `${rng.pick(SPICY)} ${i}` : `post ${i} about things ${rng.int(1000)}`
    out.push(rng.pick(accounts).post(text).event)
  }
  return out
}

export async function recordStream(plcUrl: string, shape: StreamShape): Promise<RecordedStream> {
  const accounts: TestAccount[] = []
  for (let i = 0; i < shape.repos; i++) accounts.push(await TestAccount.register(plcUrl, `bench${i}`))
  const events = shape.mix === 'feed' ? feedEvents(accounts, shape.events, 7) : labelerEvents(accounts, shape.events, 11)
  const frames = events.map((event, i) => encodeEventFrame(withSeq(event, i + 1)))
  return { frames, accounts, keys: new Map(accounts.map((a) => [a.did as string, a.signingKey.publicKey.didKey as string])) }
}

export function saveStream(dir: string, stream: Pick<RecordedStream, 'frames' | 'keys'>): void {
  writeFrames(join(dir, 'frames.bin'), stream.frames)
  writeFileSync(join(dir, 'keys.json'), JSON.stringify([...stream.keys]))
}

/** What `saveStream` left in `dir`, or null. */
export function loadStream(dir: string): { frames: Uint8Array[]; keys: Map<string, string> } | null {
  if (!existsSync(join(dir, 'keys.json'))) return null
  const keys = new Map(JSON.parse(readFileSync(join(dir, 'keys.json'), 'utf8')) as [string, string][])
  return { frames: readFrames(join(dir, 'frames.bin')), keys }
}
