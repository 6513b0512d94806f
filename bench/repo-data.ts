/**
 * The records both sides of the repo section write: the same seeded sequence
 * on each side, shaped like a real account (posts, likes, follows in a
 * 40/45/15 mix; TID record keys in creation order; a like's subject is an
 * earlier post), so MST shapes and block sizes match the network's.
 *
 * Writes use the reference's `RecordCreateOp` shape (`action`, `collection`,
 * `rkey`, `record`), which is what both write paths take in.
 */
import { tidFromTimestampUs } from '../core/syntax/tid.ts'
import { makeRng } from '../test/helpers/prng.ts'
import type { Rng } from '../test/helpers/prng.ts'

export const BENCH_DID = 'did:plc:benchaaaaaaaaaaaaaaaaaaa'
/** Seed of the secp256k1 signing key shared by both sides. */
export const KEY_SEED = 0x5eed

export type BenchRecord = { [key: string]: unknown; $type: string }
export type CreateWrite = { action: 'create'; collection: string; rkey: string; record: BenchRecord }

export type RepoSizes = { buildRecords: number; buildCommits: number; singleCommits: number }

export function repoSizes(quick: boolean): RepoSizes {
  return quick
    ? { buildRecords: 1_000, buildCommits: 5, singleCommits: 100 }
    : { buildRecords: 10_000, buildCommits: 50, singleCommits: 1_000 }
}

const START_US = Date.parse('2024-06-01T00:00:00.000Z') * 1000
const WORDS = ['the', 'relay', 'firehose', 'a', 'of', 'posting', 'merkle', 'tree', 'today', 'and', 'bluesky', 'is', 'new', 'cat']
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
const FRIEND_DIDS = Array.from({ length: 64 }, (_, i) => `did:plc:friend${BASE32[i >> 5]}${BASE32[i & 31]}aaaaaaaaaaaaaaaa`)
const SUBJECT_CID = 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454'

/** An endless, deterministic stream of create writes. */
export class WriteSource {
  private readonly rng: Rng = makeRng(2024)
  private index = 0
  private readonly posts: string[] = []

  next(): CreateWrite {
    const i = this.index++
    const rkey = tidFromTimestampUs(START_US + i * 1_000_000, 0)
    const createdAt = new Date(START_US / 1000 + i * 1000).toISOString()
    const roll = this.rng.next()
    if (roll < 0.4 || this.posts.length === 0) {
      this.posts.push(rkey)
      return { action: 'create', collection: 'app.bsky.feed.post', rkey, record: this.post(createdAt) }
    }
    if (roll < 0.85) {
      const subject = { uri: `at://${BENCH_DID}/app.bsky.feed.post/${this.rng.pick(this.posts)}`, cid: SUBJECT_CID }
      return { action: 'create', collection: 'app.bsky.feed.like', rkey, record: { $type: 'app.bsky.feed.like', subject, createdAt } }
    }
    const follow = { $type: 'app.bsky.graph.follow', subject: this.rng.pick(FRIEND_DIDS), createdAt }
    return { action: 'create', collection: 'app.bsky.graph.follow', rkey, record: follow }
  }

  batch(size: number): CreateWrite[] {
    return Array.from({ length: size }, () => this.next())
  }

  private post(createdAt: string): BenchRecord {
    const words = Array.from({ length: 5 + this.rng.int(30) }, () => this.rng.pick(WORDS))
    return { $type: 'app.bsky.feed.post', text: words.join(' '), createdAt, langs: ['en'] }
  }
}

/** 32 seeded bytes that are a valid secp256k1 scalar (not all-zero, far below n). */
export function signingKeyBytes(): Uint8Array {
  const bytes = makeRng(KEY_SEED).bytes(32)
  bytes[0] = 0x01
  return bytes
}
