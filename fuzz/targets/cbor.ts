/**
 * Fuzz target: the strict DAG-CBOR decoder (core/data/cbor.ts `decodeCbor`).
 * Documented bad-input error: `InvalidCbor`. Invariants on what it accepts:
 * it re-encodes to the very same bytes (strict = canonical only), and
 * @ipld/dag-cbor (the ecosystem's codec) decodes it too and re-encodes the
 * same bytes — we may refuse more than it does, never accept what it refuses.
 */
import { readFileSync } from 'node:fs'
import * as ipldDagCbor from '@ipld/dag-cbor'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { repoSeeds } from '../seeds/repo.ts'

function interopCbor(): Uint8Array[] {
  const fixtures = JSON.parse(readFileSync(new URL('../../test/vectors/interop/data-model/data-model-fixtures.json', import.meta.url), 'utf8')) as { cbor_base64: string }[]
  return fixtures.map((f) => new Uint8Array(Buffer.from(f.cbor_base64, 'base64')))
}

function hasBom(bytes: Uint8Array): boolean {
  for (let i = bytes.indexOf(0xef); i >= 0; i = bytes.indexOf(0xef, i + 1)) if (bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf) return true
  return false
}

export const target: FuzzTarget = {
  name: 'cbor',
  expectedErrors: ['InvalidCbor'],
  coverageDirs: ['core/data/'],
  cbor: true,
  seeds: () => {
    const repo = repoSeeds()
    return [...interopCbor(), ...repo.records, ...repo.nodes.slice(0, 4), ...repo.commits.slice(0, 2), encodeCbor({ a: [1, -1, 2 ** 53 - 1, null, true, false, 'é€😀', new Uint8Array(30)] })]
  },
  dictionary: [Uint8Array.of(0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20), Uint8Array.of(0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0xef, 0xbb, 0xbf), Uint8Array.of(0xed, 0xa0, 0x80), Uint8Array.of(0xf4, 0x90, 0x80, 0x80)],
  run(bytes) {
    const value = decodeCbor(bytes)
    const again = encodeCbor(value)
    if (Buffer.compare(again, bytes) !== 0) throw new Error('decodeCbor accepted bytes that do not re-encode to themselves')
    let theirs: Uint8Array
    try {
      theirs = ipldDagCbor.encode(ipldDagCbor.decode(bytes))
    } catch (err) {
      throw new Error(`decodeCbor accepted bytes @ipld/dag-cbor refuses: ${String(err)}`)
    }
    // cborg's TextDecoder strips a leading BOM from text (a key "\uFEFFx" becomes "x"); we keep it, as
    // cbor-decode.ts documents, so bytes holding EF BB BF may legitimately re-encode differently there.
    if (Buffer.compare(theirs, bytes) !== 0 && !hasBom(bytes)) throw new Error('@ipld/dag-cbor re-encodes bytes decodeCbor accepted differently')
  },
}
