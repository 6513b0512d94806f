/**
 * Real inputs for the repo-shaped targets, built with our own core: a small
 * repo grown over a few commits (fixed keys and clock, so the seeds are the
 * same every run). Returns the full repo CAR, every commit's event CAR, the
 * MST node blocks, record and commit blocks, and the firehose frames that
 * would carry those commits (plus #sync, #identity, #account, #info and
 * error frames).
 */
import { decodeNode } from '../../core/repo/mst/node-codec.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { applyWrites, createInitialCommit } from '../../core/repo/writes.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import { keypairFromPrivateKey } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import { parseDid } from '../../core/syntax/did.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { parseRecordKey } from '../../core/syntax/record-key.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { encodeEventFrame } from '../../core/stream/events.ts'
import type { StreamMessage } from '../../core/stream/events.ts'
import { encodeErrorFrame, encodeInfoFrame } from '../../core/stream/frames.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'

export const SEED_DID = parseDid('did:plc:ewvi7nxzyoun6zhxrhs64oiz')
const TIME = '2026-11-22T08:00:00.000Z' as Datetime

export function seedKeypair(type: 'k256' | 'p256' = 'k256'): Keypair {
  return keypairFromPrivateKey(type, new Uint8Array(32).fill(type === 'k256' ? 7 : 9))
}

function write(action: 'create' | 'update' | 'delete', path: string, text = path): RepoWrite {
  const [collection, rkey] = path.split('/') as [string, string]
  const c = parseNsid(collection)
  const k = parseRecordKey(rkey)
  if (action === 'delete') return { action, collection: c, rkey: k }
  return { action, collection: c, rkey: k, record: { $type: collection, text, createdAt: TIME, n: text.length } }
}

export type RepoSeeds = {
  repoCar: Uint8Array
  eventCars: Uint8Array[]
  nodes: Uint8Array[]
  records: Uint8Array[]
  commits: Uint8Array[]
  frames: Uint8Array[]
}

let cached: RepoSeeds | null = null

export function repoSeeds(): RepoSeeds {
  if (cached !== null) return cached
  const keypair = seedKeypair()
  let ms = Date.parse(TIME)
  const clock = new TidClock({ nowMs: () => (ms += 1000), clockId: 3 })
  const blocks = new MemoryBlockMap()
  const results: CommitResult[] = []
  const store = (r: CommitResult): CommitResult => {
    for (const cid of r.removedCids) blocks.delete(cid)
    blocks.addAll(r.newBlocks)
    results.push(r)
    return r
  }
  let head = store(createInitialCommit(SEED_DID, keypair, { clock })).head
  const batches: RepoWrite[][] = [
    [write('create', 'app.bsky.feed.post/3kabc2aaaaa22'), write('create', 'app.bsky.feed.like/3kabc2aaaab22')],
    Array.from({ length: 24 }, (_, i) => write('create', `app.bsky.graph.follow/3kabc${(100 + i).toString(32)}aaa22`)),
    [write('update', 'app.bsky.feed.post/3kabc2aaaaa22', 'edited'), write('delete', 'app.bsky.feed.like/3kabc2aaaab22')],
    [write('create', 'app.bsky.actor.profile/self'), write('create', 'com.example.thing/a:b-c~d')],
  ]
  for (const writes of batches) head = store(applyWrites(head, writes, { keypair, did: SEED_DID, reader: blocks, clock })).head
  const nodes: Uint8Array[] = []
  const records: Uint8Array[] = []
  for (const [, bytes] of blocks.entries()) {
    try {
      decodeNode(bytes)
      nodes.push(bytes)
    } catch {
      records.push(bytes)
    }
  }
  const last = results[results.length - 1]!
  const events: StreamMessage[] = results.map((r, i) => ({
    t: '#commit', seq: i + 1, repo: SEED_DID, commit: r.commitCid, rev: r.rev, since: r.since,
    blocks: r.eventCarBytes, ops: r.ops, prevData: r.prevData, time: TIME,
  }))
  events.push(
    { t: '#sync', seq: 9, did: SEED_DID, rev: last.rev, blocks: encodeCarBytes(last.commitCid, new MemoryBlockMap().set(last.commitCid, last.commitBytes)), time: TIME },
    { t: '#identity', seq: 10, did: SEED_DID, time: TIME, handle: null },
    { t: '#account', seq: 11, did: SEED_DID, time: TIME, active: false, status: 'takendown' },
    { t: '#info', name: 'OutdatedCursor', message: null },
  )
  cached = {
    repoCar: encodeCarBytes(head.commitCid, blocks),
    eventCars: results.map((r) => r.eventCarBytes),
    nodes,
    records,
    commits: results.map((r) => r.commitBytes),
    frames: [...events.map((e) => encodeEventFrame(e)), encodeErrorFrame('FutureCursor', 'cursor in the future'), encodeInfoFrame('OutdatedCursor')],
  }
  return cached
}
