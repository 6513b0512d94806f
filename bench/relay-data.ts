/**
 * Synthetic upstream traffic for the relay benchmarks, shaped like the live
 * network's #commit frames: accounts with k256 keys and repos of `records`
 * post-like records each (a reply with a link facet and a link card, ~1.3 KB),
 * then `commits` single-create commits round-robin over the accounts. Each
 * frame carries what sync 1.1 asks for (commit, the MST nodes on the path
 * and the neighbours the inversion needs, the record) and is encoded with
 * seqs 1..n: ~4–5 KB and ~10 blocks at a few thousand records per repo.
 *
 * Accounts are registered through `register` (a PLC directory for our
 * relay); `keys` maps each DID to its did:key (the reference pipeline's DID
 * cache). Built before any timing; the repos are dropped once framed.
 *
 * `writeFrames` / `readFrames`: a file of frames, each a 4-byte big-endian
 * length then the bytes (what relay-ingest-host.ts serves).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { generateKeypair } from '../core/crypto/keypair.ts'
import type { Keypair } from '../core/crypto/keypair.ts'
import { decodeCarBytes } from '../core/repo/car/decode.ts'
import { encodeEventFrame, withSeq } from '../core/stream/events.ts'
import { parseFrame } from '../core/stream/event-parse.ts'
import { datetimeFromDate } from '../core/syntax/datetime.ts'
import { TidClock } from '../core/syntax/tid.ts'
import { createGenesisOp } from '../did-resolver/plc/op-builder.ts'
import { postOp } from '../test/helpers/plc.ts'
import { MemoryRepo, writeFor } from '../test/helpers/repo-writes.ts'

const TEXT = 'The quick brown fox jumps over the lazy dog; a post of ordinary length with a link or two. '.repeat(2)
const REF = { uri: 'at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l', cid: 'bafyreifqsn3t2tneqy6ovfkwsqkqu7h4ccz7vcfvwjmzw4kcbbwm4kfvcu' }
const RECORDS_PER_COMMIT_MAX = 200

/** A reply with a link facet and a link card: ~1.3 KB, a post with the usual metadata. */
export function benchPost(i: number) {
  return {
    $type: 'app.bsky.feed.post',
    text: `${TEXT}${i}`,
    createdAt: '2024-05-01T12:00:00.000Z',
    langs: ['en'],
    reply: { root: REF, parent: REF },
    facets: [{ index: { byteStart: 4, byteEnd: 20 }, features: [{ $type: 'app.bsky.richtext.facet#link', uri: 'https://example.com/some/longer/path?with=query' }] }],
    embed: {
      $type: 'app.bsky.embed.external',
      external: { uri: 'https://example.com/some/longer/path?with=query', title: 'An article about relays and firehoses', description: TEXT },
    },
  }
}

export type RelayBenchShape = { dids: number; records: number; commits: number }
export type RelayBenchData = { frames: Uint8Array[]; dids: string[]; keys: Map<string, string> }
/** Registers an account (its DID and key) wherever DIDs are resolved; returns its DID. */
export type RegisterAccount = (keypair: Keypair, index: number) => Promise<string>

/**
 * did:plc accounts whose documents name `pdsOrigin` as their PDS, posted to
 * the directory at `plcUrl` (or only computed, when it is null: a pipeline
 * that takes its keys from `keys` needs no directory).
 */
export function plcRegistrar(plcUrl: string | null, pdsOrigin: string): RegisterAccount {
  const rotation = generateKeypair('k256')
  return async (keypair, index) => {
    const genesis = createGenesisOp({ signingKey: keypair.publicKey.didKey, rotationKeys: [rotation.publicKey.didKey], handle: `bench${index}.test`, pds: pdsOrigin, signer: rotation })
    if (plcUrl === null) return genesis.did
    const posted = await postOp(plcUrl, genesis.did, genesis.op)
    if (posted.status !== 200) throw new Error(`PLC refused ${genesis.did}`)
    return genesis.did
  }
}

export async function buildRelayFrames(shape: RelayBenchShape, register: RegisterAccount): Promise<RelayBenchData> {
  const repos: MemoryRepo[] = []
  const rkeys = new TidClock()
  const rkey = (): string => `app.bsky.feed.post/${rkeys.next()}`
  let n = 0
  // Every DID first: building a repo takes seconds, longer than the directory's
  // keep-alive, and a POST on a connection the server is closing fails.
  const accounts: { did: MemoryRepo['did']; keypair: ReturnType<typeof generateKeypair> }[] = []
  for (let d = 0; d < shape.dids; d++) {
    const keypair = generateKeypair('k256')
    accounts.push({ did: (await register(keypair, d)) as MemoryRepo['did'], keypair })
  }
  for (const { did, keypair } of accounts) {
    const repo = new MemoryRepo(did, keypair)
    for (let done = 0; done < shape.records; done += RECORDS_PER_COMMIT_MAX) {
      const count = Math.min(RECORDS_PER_COMMIT_MAX, shape.records - done)
      repo.apply(Array.from({ length: count }, () => writeFor('create', rkey(), benchPost(n++))))
    }
    repos.push(repo)
  }
  const frames: Uint8Array[] = []
  for (let i = 0; i < shape.commits; i++) {
    const repo = repos[i % repos.length] as MemoryRepo
    const r = repo.apply([writeFor('create', rkey(), benchPost(n++))])
    const event = { t: '#commit' as const, repo: repo.did, commit: r.commitCid, rev: r.rev, since: r.since, blocks: r.eventCarBytes, ops: r.ops, prevData: r.prevData, time: datetimeFromDate(new Date()) }
    frames.push(encodeEventFrame(withSeq(event, i + 1)))
  }
  return { frames, dids: repos.map((r) => r.did), keys: new Map(repos.map((r) => [r.did, r.keypair.publicKey.didKey])) }
}

/** Average frame bytes and CAR blocks per frame (a sample of up to 500 frames for the blocks). */
export function frameShape(frames: readonly Uint8Array[]): { bytes: number; blocks: number } {
  const bytes = frames.reduce((sum, f) => sum + f.length, 0) / frames.length
  const sample = frames.slice(0, 500)
  let blocks = 0
  for (const frame of sample) {
    const parsed = parseFrame(frame)
    if (parsed.kind === 'message' && parsed.message.t === '#commit') blocks += decodeCarBytes(parsed.message.blocks).blocks.size
  }
  return { bytes, blocks: blocks / sample.length }
}

export function writeFrames(file: string, frames: readonly Uint8Array[]): void {
  const parts: Uint8Array[] = []
  for (const frame of frames) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(frame.length)
    parts.push(length, frame)
  }
  writeFileSync(file, Buffer.concat(parts))
}

export function readFrames(file: string): Uint8Array[] {
  const bytes = readFileSync(file)
  const frames: Uint8Array[] = []
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at)
    frames.push(new Uint8Array(bytes.buffer, bytes.byteOffset + at + 4, length))
    at += 4 + length
  }
  return frames
}
