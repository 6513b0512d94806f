/**
 * Test data for MST tests: repo-path keys (collections with TID or random
 * record keys), value CIDs, and an @atproto/repo MST built from the same
 * data as an oracle (it takes our multiformats 14 CIDs: its `Cid` type is
 * structural).
 */
import { readFileSync } from 'node:fs'
import { MemoryBlockstore, MST as RefMst } from '@atproto/repo'
import { cidForCbor, parseCid } from '../../core/data/cid.ts'
import type { CID } from '../../core/data/cid.ts'
import type { Rng } from './prng.ts'
import { INTEROP_DIR_URL } from './vectors.ts'

export const INTEROP_DIR = INTEROP_DIR_URL
export const LEAF_CID = parseCid('bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454')

export function readInteropJson<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(path, INTEROP_DIR), 'utf8')) as T
}

/** Non-comment, non-empty lines of an interop .txt file (never trimmed). */
export function readInteropLines(path: string): string[] {
  return readFileSync(new URL(path, INTEROP_DIR), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
}

const COLLECTIONS = [
  'app.bsky.feed.post',
  'app.bsky.feed.like',
  'app.bsky.graph.follow',
  'app.bsky.feed.repost',
  'com.example.record',
]
const TID_CHARS = '234567abcdefghijklmnopqrstuvwxyz'
const RKEY_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~:'

export function randomTid(rng: Rng): string {
  let out = TID_CHARS[rng.int(16)]!
  for (let i = 1; i < 13; i++) out += TID_CHARS[rng.int(32)]!
  return out
}

/** A valid repo path: mostly TID record keys, sometimes random allowed chars. */
export function randomKey(rng: Rng): string {
  const collection = rng.pick(COLLECTIONS)
  if (rng.next() < 0.8) return `${collection}/${randomTid(rng)}`
  const length = 1 + rng.int(20)
  let rkey = ''
  for (let i = 0; i < length; i++) rkey += RKEY_CHARS[rng.int(RKEY_CHARS.length)]!
  return `${collection}/${rkey}`
}

export function randomKeys(rng: Rng, count: number): string[] {
  const keys = new Set<string>()
  while (keys.size < count) keys.add(randomKey(rng))
  return [...keys]
}

export function randomCid(rng: Rng): CID {
  return cidForCbor(rng.bytes(16))
}

export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    const tmp = out[i]!
    out[i] = out[j]!
    out[j] = tmp
  }
  return out
}

type RefCid = Parameters<RefMst['add']>[1]

/** The reference implementation, driven with string CIDs. */
export class RefTree {
  private constructor(
    readonly store: MemoryBlockstore,
    public mst: RefMst,
  ) {}

  static async create(): Promise<RefTree> {
    const store = new MemoryBlockstore()
    return new RefTree(store, await RefMst.create(store))
  }

  async add(key: string, cid: CID): Promise<void> {
    this.mst = await this.mst.add(key, cid as unknown as RefCid)
  }

  async update(key: string, cid: CID): Promise<void> {
    this.mst = await this.mst.update(key, cid as unknown as RefCid)
  }

  async delete(key: string): Promise<void> {
    this.mst = await this.mst.delete(key)
  }

  async root(): Promise<string> {
    return (await this.mst.getPointer()).toString()
  }

  /** Every node block of the current tree, CID string -> bytes. */
  async nodeBlocks(): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>()
    for (const node of await this.mst.allNodes()) {
      if (!node.isTree()) continue
      const { cid, bytes } = await node.serialize()
      out.set(cid.toString(), bytes)
    }
    return out
  }
}
