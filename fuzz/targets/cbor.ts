/**
 * Fuzz target: the strict DAG-CBOR decoder (core/data/cbor.ts `decodeCbor`).
 * Documented bad-input error: `InvalidCbor`. Invariant checked too: whatever
 * it accepts re-encodes to the very same bytes (strict = canonical only).
 */
import { readFileSync } from 'node:fs'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { repoSeeds } from '../seeds/repo.ts'

function interopCbor(): Uint8Array[] {
  const fixtures = JSON.parse(readFileSync(new URL('../../test/vectors/interop/data-model/data-model-fixtures.json', import.meta.url), 'utf8')) as { cbor_base64: string }[]
  return fixtures.map((f) => new Uint8Array(Buffer.from(f.cbor_base64, 'base64')))
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
  },
}
