/**
 * One MST node in memory: immutable content, loaded lazily, encoded lazily.
 *
 * A node is one of:
 * - a stub: only its CID is known (a link read from its parent); the first
 *   access to `left`/`entries` reads the block from the stub's BlockReader and
 *   decodes it ('MissingBlock' if the reader lacks it);
 * - loaded: decoded from a block, CID and bytes known;
 * - fresh: built in memory by a mutation; CID and bytes are computed on the
 *   first `cid()` call (children first) and then cached.
 *
 * Content never changes after construction, so nodes are shared freely
 * between tree versions (path copying). `epoch` tells which tree version
 * created a fresh node (-1 for stored nodes), which is how a tree finds the
 * blocks it created since its base (mst.ts).
 *
 * Layers come from the parent (child = parent - 1); a stub at layer 0 never
 * has children, and a child link below layer 0 is 'NonCanonicalMst'. Entry
 * heights are not re-hashed here (verify-tree.ts does that for untrusted
 * trees). An empty non-root node is 'NonCanonicalMst'.
 */
import { AtfedError } from '../../errors.ts'
import type { BlockReader } from '../block-reader.ts'
import { cidFromBytes, nodeCidFor } from './cid-bytes.ts'
import { decodeNode, encodeNode } from './node-codec.ts'
import type { EntryData, NodeData } from './node-codec.ts'

export type Entry = {
  readonly key: string
  /** Raw 36-byte value CID. */
  readonly value: Uint8Array
  /** Subtree of keys between this entry and the next, one layer down. */
  readonly right: MstNode | null
}

export const STORED_EPOCH = -1

export class MstNode {
  readonly layer: number
  readonly epoch: number
  private loadedLeft: MstNode | null = null
  private loadedEntries: readonly Entry[] | null
  private cidRaw: Uint8Array | null
  private block: Uint8Array | null = null
  private readonly reader: BlockReader | null
  private readonly isRoot: boolean

  private constructor(init: {
    layer: number
    epoch: number
    left: MstNode | null
    entries: readonly Entry[] | null
    cid: Uint8Array | null
    reader: BlockReader | null
    isRoot: boolean
  }) {
    this.layer = init.layer
    this.epoch = init.epoch
    this.loadedLeft = init.left
    this.loadedEntries = init.entries
    this.cidRaw = init.cid
    this.reader = init.reader
    this.isRoot = init.isRoot
  }

  /** A node known only by its CID, read from `reader` when first needed. */
  static stub(cid: Uint8Array, layer: number, reader: BlockReader, options: { isRoot?: boolean } = {}): MstNode {
    if (layer < 0) throw new AtfedError('NonCanonicalMst', 'MST node at layer 0 has a subtree link')
    return new MstNode({ layer, epoch: STORED_EPOCH, left: null, entries: null, cid, reader, isRoot: options.isRoot ?? false })
  }

  /** A node built in memory by tree version `epoch`. */
  static fresh(layer: number, left: MstNode | null, entries: readonly Entry[], epoch: number): MstNode {
    return new MstNode({ layer, epoch, left, entries, cid: null, reader: null, isRoot: false })
  }

  get left(): MstNode | null {
    if (this.loadedEntries === null) this.load()
    return this.loadedLeft
  }

  get entries(): readonly Entry[] {
    if (this.loadedEntries === null) return this.load()
    return this.loadedEntries
  }

  /** True once the content is in memory (fresh, or a stub that was read). */
  get isLoaded(): boolean {
    return this.loadedEntries !== null
  }

  /** No entries and no subtree: only valid as the root of an empty tree. */
  get isEmpty(): boolean {
    return this.entries.length === 0 && this.left === null
  }

  /** Raw 36-byte CID; encodes this node (and fresh children) if needed. */
  cid(): Uint8Array {
    if (this.cidRaw === null) this.encode()
    return this.cidRaw!
  }

  /** The node's DAG-CBOR block. */
  bytes(): Uint8Array {
    if (this.block === null) {
      if (this.cidRaw === null) this.encode()
      else this.load()
    }
    return this.block!
  }

  /** True if the CID is already known without encoding. */
  get hasCid(): boolean {
    return this.cidRaw !== null
  }

  private encode(): void {
    const entries = this.entries
    const data: EntryData[] = new Array(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      data[i] = { key: entry.key, value: entry.value, right: entry.right === null ? null : entry.right.cid() }
    }
    const left = this.left
    const bytes = encodeNode({ left: left === null ? null : left.cid(), entries: data })
    this.block = bytes
    this.cidRaw = nodeCidFor(bytes)
  }

  private load(): readonly Entry[] {
    if (this.reader === null || this.cidRaw === null) throw new Error('MstNode: fresh node without entries')
    const cid = cidFromBytes(this.cidRaw)
    const bytes = this.reader.get(cid)
    if (bytes === undefined) throw new AtfedError('MissingBlock', `MST node ${cid.toString()} is not available`)
    return this.fill(bytes, decodeNode(bytes))
  }

  /** Takes the decoded content of this node's block. */
  fill(bytes: Uint8Array, data: NodeData): readonly Entry[] {
    if (this.reader === null || this.cidRaw === null) throw new Error('MstNode: fill on a fresh node')
    if (data.entries.length === 0 && data.left === null && !this.isRoot) {
      throw new AtfedError('NonCanonicalMst', `empty MST node ${cidFromBytes(this.cidRaw).toString()} below the root`)
    }
    const childLayer = this.layer - 1
    const reader = this.reader
    const entries: Entry[] = new Array(data.entries.length)
    for (let i = 0; i < data.entries.length; i++) {
      const e = data.entries[i]!
      entries[i] = { key: e.key, value: e.value, right: e.right === null ? null : MstNode.stub(e.right, childLayer, reader) }
    }
    this.loadedLeft = data.left === null ? null : MstNode.stub(data.left, childLayer, reader)
    this.loadedEntries = entries
    this.block = bytes
    return entries
  }
}

/** Slot i of a node: 0 is `left`, i > 0 is `entries[i - 1].right`. */
export function slotAt(node: MstNode, i: number): MstNode | null {
  return i === 0 ? node.left : node.entries[i - 1]!.right
}

/** First index whose key is >= `key` (entries.length if none). */
export function lowerBound(entries: readonly { readonly key: string }[], key: string): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (entries[mid]!.key < key) lo = mid + 1
    else hi = mid
  }
  return lo
}
