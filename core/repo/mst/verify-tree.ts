/**
 * Full check that a tree read from untrusted blocks is canonical: the shape
 * is exactly the one the key set determines, so its root CID means what it
 * should. Used on imported repos and `#sync` CARs, where every node is read.
 *
 * Checked: every block present ('MissingBlock'); each node decodes strictly
 * (node-codec.ts: valid keys, increasing within the node, canonical prefix
 * compression); and, as 'NonCanonicalMst':
 * - the root is not a bare link, and the root layer is its first key's height;
 * - every key's height equals its node's layer (links go down one layer);
 * - keys strictly increase across the whole in-order walk;
 * - no link leaves a layer-0 node;
 * - no empty node below the root (link-only intermediates are fine).
 * Two subtrees are never adjacent by construction of the node format.
 * The root layer is capped at `depthMax` ('MstTooDeep').
 *
 * Contract: blocks already hash to their CIDs (the CAR reader checks that).
 */
import { AtfedError } from '../../errors.ts'
import { MST_DEPTH_MAX } from '../../limits.ts'
import type { CID } from '../../data/cid.ts'
import type { BlockReader } from '../block-reader.ts'
import { cidFromBytes } from './cid-bytes.ts'
import { keyHeight } from './key-height.ts'
import { decodeNode } from './node-codec.ts'

export type TreeStats = { keys: number; nodes: number; layer: number }

type Walk = { blocks: BlockReader; lastKey: string; keys: number; nodes: number }

export function verifyTree(root: CID, blocks: BlockReader, options: { depthMax?: number } = {}): TreeStats {
  const depthMax = options.depthMax ?? MST_DEPTH_MAX
  const walk: Walk = { blocks, lastKey: '', keys: 0, nodes: 0 }
  const { left, entries } = readNode(walk, root)
  const first = entries[0]
  if (first === undefined) {
    if (left !== null) nonCanonical('the root is a bare link')
    return { keys: 0, nodes: 1, layer: 0 }
  }
  const layer = keyHeight(first.key)
  if (layer > depthMax) throw new AtfedError('MstTooDeep', `MST root at layer ${layer} (max ${depthMax})`)
  visit(walk, root, layer, true)
  return { keys: walk.keys, nodes: walk.nodes, layer }
}

function visit(walk: Walk, cid: CID, layer: number, isRoot: boolean): void {
  const { left, entries } = readNode(walk, cid)
  walk.nodes++
  if (!isRoot && entries.length === 0 && left === null) nonCanonical(`empty node ${cid.toString()} below the root`)
  if (layer === 0 && (left !== null || entries.some((e) => e.right !== null))) {
    nonCanonical(`layer-0 node ${cid.toString()} has a subtree link`)
  }
  if (left !== null) visit(walk, cidFromBytes(left), layer - 1, false)
  for (const entry of entries) {
    if (entry.key <= walk.lastKey) nonCanonical(`key ${entry.key} is out of order`)
    if (keyHeight(entry.key) !== layer) nonCanonical(`key ${entry.key} does not belong at layer ${layer}`)
    walk.lastKey = entry.key
    walk.keys++
    if (entry.right !== null) visit(walk, cidFromBytes(entry.right), layer - 1, false)
  }
}

function readNode(walk: Walk, cid: CID): ReturnType<typeof decodeNode> {
  const bytes = walk.blocks.get(cid)
  if (bytes === undefined) throw new AtfedError('MissingBlock', `MST node ${cid.toString()} is not available`)
  return decodeNode(bytes)
}

function nonCanonical(message: string): never {
  throw new AtfedError('NonCanonicalMst', message)
}
