/**
 * The Merkle Search Tree of a repo: an immutable value. Every change returns
 * a new `Mst` that shares all untouched nodes with the old one; nodes are read
 * from the BlockReader only when a lookup or a change reaches them.
 *
 * New blocks: a tree remembers its base (the tree it was loaded as, or the
 * last `rebase()`). `collectNewBlocks()` returns the node blocks reachable
 * from the current root that were built since the base, and the CIDs of base
 * nodes that are no longer reachable. A node built and then undone (insert
 * then delete) cancels out by CID. After persisting the new blocks, call
 * `rebase()` to keep working on the in-memory tree as the new base.
 *
 * Limits: keys are checked ('InvalidMstKey'); a node over `entriesMax`
 * entries is 'MstNodeTooLarge'; a key or a loaded root above layer
 * `depthMax` is 'MstTooDeep'. Both default to core/limits.ts.
 */
import { AtfedError } from '../../errors.ts'
import { MST_DEPTH_MAX, MST_NODE_ENTRIES_MAX } from '../../limits.ts'
import { DAG_CBOR_CODEC } from '../../data/cid.ts'
import type { CID } from '../../data/cid.ts'
import { binaryKey, MemoryBlockMap } from '../block-reader.ts'
import type { BlockReader } from '../block-reader.ts'
import { cidFromBytes, isNodeValueCid, valueCidBytes } from './cid-bytes.ts'
import { ensureValidMstKey, keyHeight } from './key-height.ts'
import { decodeNode } from './node-codec.ts'
import { deleteKey, Edit, insertKey, updateKey } from './mutate.ts'
import { lowerBound, MstNode, slotAt } from './node.ts'
import { walkEntries, walkNodes } from './walk.ts'
import type { KeyRange } from './walk.ts'

export type MstOptions = { entriesMax?: number; depthMax?: number }
export type MstLeaf = { key: string; cid: CID }
export type NewBlocks = { root: CID; newBlocks: MemoryBlockMap; removedCids: CID[] }

type Lineage = { epoch: number; entriesMax: number; depthMax: number }
/** Stored nodes replaced since the base (a persistent list, shared between versions). */
type Journal = { cids: readonly Uint8Array[]; next: Journal } | null

export class Mst {
  private constructor(
    readonly root: MstNode,
    private readonly lineage: Lineage,
    private readonly journal: Journal,
  ) {}

  /** An empty tree (its root block counts as new until rebased). */
  static create(options: MstOptions = {}): Mst {
    const lineage = makeLineage(options)
    return new Mst(MstNode.fresh(0, null, [], lineage.epoch), lineage, null)
  }

  /** The tree rooted at `root`. Reads the root block now, the rest on demand. */
  static load(reader: BlockReader, root: CID, options: MstOptions = {}): Mst {
    const lineage = makeLineage(options)
    if (!isNodeValueCid(root) || root.code !== DAG_CBOR_CODEC) throw new AtfedError('InvalidCid', 'MST root must be a dag-cbor CID')
    const bytes = reader.get(root)
    if (bytes === undefined) throw new AtfedError('MissingBlock', `MST root ${root.toString()} is not available`)
    const data = decodeNode(bytes, { entriesMax: lineage.entriesMax })
    const first = data.entries[0]
    if (first === undefined && data.left !== null) {
      throw new AtfedError('NonCanonicalMst', 'MST root is a bare link (untrimmed top)')
    }
    const layer = first === undefined ? 0 : keyHeight(first.key)
    if (layer > lineage.depthMax) throw new AtfedError('MstTooDeep', `MST root at layer ${layer} (max ${lineage.depthMax})`)
    const node = MstNode.stub(root.bytes, layer, reader, { isRoot: true })
    node.fill(bytes, data)
    return new Mst(node, lineage, null)
  }

  get layer(): number {
    return this.root.layer
  }

  getPointer(): CID {
    return cidFromBytes(this.root.cid())
  }

  get(key: string): CID | null {
    const raw = findValue(this.root, ensureValidMstKey(key))
    return raw === null ? null : cidFromBytes(raw)
  }

  /** Adds an absent key ('MstKeyExists' if present). */
  insert(key: string, cid: CID): Mst {
    ensureValidMstKey(key)
    const value = valueCidBytes(cid)
    if (findValue(this.root, key) !== null) throw new AtfedError('MstKeyExists', `MST already holds ${key}`)
    const height = keyHeight(key)
    if (height > this.lineage.depthMax) {
      throw new AtfedError('MstTooDeep', `key ${key} has layer ${height} (max ${this.lineage.depthMax})`)
    }
    const flat = Buffer.from(key, 'latin1').toString('latin1') // one flat copy: the node encoder reads keys often
    return this.change((edit) => insertKey(edit, this.root, { key: flat, value, right: null }, height))
  }

  /** Replaces the value of a present key ('MstKeyNotFound' if absent). */
  update(key: string, cid: CID): Mst {
    ensureValidMstKey(key)
    const value = valueCidBytes(cid)
    this.mustHave(key)
    return this.change((edit) => updateKey(edit, this.root, key, value))
  }

  /** Removes a present key ('MstKeyNotFound' if absent). */
  delete(key: string): Mst {
    ensureValidMstKey(key)
    this.mustHave(key)
    return this.change((edit) => deleteKey(edit, this.root, key))
  }

  /** Leaves in key order (or reverse), within `range`. */
  list(range: KeyRange = {}): MstLeaf[] {
    const out: MstLeaf[] = []
    for (const entry of walkEntries(this.root, range)) out.push({ key: entry.key, cid: cidFromBytes(entry.value) })
    return out
  }

  *leaves(range: KeyRange = {}): Generator<MstLeaf, void, undefined> {
    for (const entry of walkEntries(this.root, range)) yield { key: entry.key, cid: cidFromBytes(entry.value) }
  }

  /** Every node block of the tree, parents first (reads every node). */
  *nodeBlocks(): Generator<[CID, Uint8Array], void, undefined> {
    for (const node of walkNodes(this.root)) yield [cidFromBytes(node.cid()), node.bytes()]
  }

  /** Node blocks built since the base, and base nodes no longer reachable. */
  collectNewBlocks(): NewBlocks {
    const rootRaw = this.root.cid()
    const fresh = new Map<string, MstNode>()
    collectFresh(this.root, this.lineage.epoch, fresh)
    const retired = new Map<string, Uint8Array>()
    for (let j = this.journal; j !== null; j = j.next) {
      for (const raw of j.cids) retired.set(binaryKey(raw), raw)
    }
    const newBlocks = new MemoryBlockMap()
    for (const [key, node] of fresh) {
      if (!retired.has(key)) newBlocks.set(cidFromBytes(node.cid()), node.bytes())
    }
    const removedCids: CID[] = []
    for (const [key, raw] of retired) if (!fresh.has(key)) removedCids.push(cidFromBytes(raw))
    return { root: cidFromBytes(rootRaw), newBlocks, removedCids }
  }

  /** This tree as a new base: the caller has stored its new blocks. */
  rebase(): Mst {
    this.root.cid()
    return new Mst(this.root, { ...this.lineage, epoch: this.lineage.epoch + 1 }, null)
  }

  private mustHave(key: string): void {
    if (findValue(this.root, key) === null) throw new AtfedError('MstKeyNotFound', `MST has no key ${key}`)
  }

  private change(run: (edit: Edit) => MstNode): Mst {
    const edit = new Edit(this.lineage.epoch, this.lineage.entriesMax)
    const root = run(edit)
    const journal = edit.retired.length === 0 ? this.journal : { cids: edit.retired, next: this.journal }
    return new Mst(root, this.lineage, journal)
  }
}

function makeLineage(options: MstOptions): Lineage {
  return {
    epoch: 0,
    entriesMax: options.entriesMax ?? MST_NODE_ENTRIES_MAX,
    depthMax: options.depthMax ?? MST_DEPTH_MAX,
  }
}

/** The raw value CID stored under `key`, or null. */
export function findValue(root: MstNode, key: string): Uint8Array | null {
  let node: MstNode | null = root
  while (node !== null) {
    const entries = node.entries
    const i = lowerBound(entries, key)
    const entry = entries[i]
    if (entry !== undefined && entry.key === key) return entry.value
    node = slotAt(node, i)
  }
  return null
}

function collectFresh(node: MstNode, epoch: number, out: Map<string, MstNode>): void {
  if (node.epoch !== epoch) return
  out.set(binaryKey(node.cid()), node)
  if (node.left !== null) collectFresh(node.left, epoch, out)
  for (const entry of node.entries) if (entry.right !== null) collectFresh(entry.right, epoch, out)
}
