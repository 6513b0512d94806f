/**
 * Fuzz target: CAR reading, both readers on the same bytes —
 * `decodeCarBytes` (in memory, firehose/proof CARs) and the streaming
 * `readCar` (imports, getRepo clients). Documented errors: TruncatedCar,
 * InvalidCar, BlockTooLarge, CidMismatch, InvalidCarRoots. Invariants: the two
 * readers agree (both accept with the same blocks, or both reject with the
 * same error name), and a CAR they accept is read by @ipld/car (the
 * ecosystem's reader) with the same roots and blocks — we may refuse more
 * than it does, never accept what it refuses.
 */
import { CarReader } from '@ipld/car'
import { decodeCarBytes } from '../../core/repo/car/decode.ts'
import { readCar } from '../../core/repo/car/reader.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import type { FuzzTarget } from '../engine/target.ts'
import { repoSeeds } from '../seeds/repo.ts'

const EXPECTED = ['TruncatedCar', 'InvalidCar', 'BlockTooLarge', 'CidMismatch', 'InvalidCarRoots']

async function outcome(read: () => Promise<string>): Promise<string> {
  try {
    return await read()
  } catch (err) {
    if (isAtfedError(err) && EXPECTED.includes(err.name)) return `error ${err.name}`
    throw err
  }
}

export const target: FuzzTarget = {
  name: 'car',
  expectedErrors: EXPECTED,
  coverageDirs: ['core/repo/car/', 'core/data/cid.ts'],
  maxBytes: 16 * 1024,
  seeds: () => {
    const repo = repoSeeds()
    return [...repo.eventCars, repo.repoCar, encodeCarBytes(null, new MemoryBlockMap())]
  },
  dictionary: [Uint8Array.of(0x01, 0x71, 0x12, 0x20), Uint8Array.of(0x01, 0x55, 0x12, 0x20), Uint8Array.of(0x65, 0x72, 0x6f, 0x6f, 0x74, 0x73), Uint8Array.of(0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e)],
  async run(bytes) {
    const sync = await outcome(async () => {
      const { roots, blocks } = decodeCarBytes(bytes)
      return `ok ${roots.join(',')} ${[...blocks.entries()].map(([cid]) => cid.toString()).sort().join(',')}`
    })
    const streamed = await outcome(async () => {
      const car = await readCar(bytes)
      const cids = new Set<string>()
      for await (const block of car.blocks) cids.add(block.cid.toString())
      return `ok ${car.roots.join(',')} ${[...cids].sort().join(',')}`
    })
    if (sync !== streamed) throw new Error(`CAR readers disagree: decodeCarBytes ${sync.slice(0, 60)} vs readCar ${streamed.slice(0, 60)}`)
    if (sync.startsWith('ok ')) {
      let theirs: string
      try {
        const reader = await CarReader.fromBytes(bytes)
        const cids = new Set<string>()
        for await (const block of reader.blocks()) cids.add(block.cid.toString())
        theirs = `ok ${(await reader.getRoots()).join(',')} ${[...cids].sort().join(',')}`
      } catch (err) {
        throw new Error(`we accepted a CAR @ipld/car refuses: ${String(err).slice(0, 100)}`)
      }
      if (theirs !== sync) throw new Error('@ipld/car reads other roots or blocks from a CAR we accepted')
    }
    if (sync.startsWith('error ')) throw new AtfedError(sync.slice('error '.length), 'both readers rejected the CAR')
  },
}
