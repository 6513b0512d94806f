/**
 * Fuzz target: the MST node codec (core/repo/mst/node-codec.ts `decodeNode`).
 * Documented errors: InvalidMstNode, MstNodeTooLarge. Invariant from its
 * header: a node it accepts re-encodes to the same bytes.
 */
import { decodeNode, encodeNode } from '../../core/repo/mst/node-codec.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { repoSeeds } from '../seeds/repo.ts'

export const target: FuzzTarget = {
  name: 'mst-node',
  expectedErrors: ['InvalidMstNode', 'MstNodeTooLarge'],
  coverageDirs: ['core/repo/mst/'],
  cbor: true,
  seeds: () => repoSeeds().nodes,
  dictionary: [Uint8Array.of(0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20), Uint8Array.of(0x01, 0x55, 0x12, 0x20), Uint8Array.of(0x61, 0x6b), Uint8Array.of(0x61, 0x70), Uint8Array.of(0x61, 0x74), Uint8Array.of(0x61, 0x76), Uint8Array.of(0xf6)],
  run(bytes) {
    const node = decodeNode(bytes)
    if (Buffer.compare(encodeNode(node), bytes) !== 0) throw new Error('decodeNode accepted a node that does not re-encode to the same bytes')
  },
}
