/**
 * Test helpers for CAR and block-store tests: seeded random blocks, byte
 * chunking, hand-made (possibly corrupt) CARs, and collecting a CAR stream.
 */
import { encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import type { CID } from '../../core/data/cid.ts'
import { readCar } from '../../core/repo/car/reader.ts'
import type { ByteSource } from '../../core/repo/car/byte-queue.ts'
import type { CarBlock, ReadCarOptions } from '../../core/repo/car/section.ts'
import { varintLength, writeVarint } from '../../core/repo/car/varint.ts'
import type { Rng } from './prng.ts'

/** `count` blocks: dag-cbor records and raw blocks, 0..sizeMax bytes of payload. */
export function randomBlocks(rng: Rng, count: number, sizeMax: number): CarBlock[] {
  const blocks: CarBlock[] = []
  for (let i = 0; i < count; i++) {
    const payload = rng.bytes(rng.int(sizeMax + 1))
    if (rng.int(2) === 0) {
      const bytes = encodeCbor({ i, payload })
      blocks.push({ cid: cidForCbor(bytes), bytes })
    } else {
      blocks.push({ cid: cidForRaw(payload), bytes: payload })
    }
  }
  return blocks
}

export function rootCid(label = 'root'): CID {
  return cidForCbor(encodeCbor({ label }))
}

export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

export async function collectBytes(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of source) chunks.push(chunk)
  return concatBytes(chunks)
}

/** Yields `bytes` in random-sized chunks of 1..chunkMax bytes (copies, like a socket). */
export async function* chunked(bytes: Uint8Array, rng: Rng, chunkMax: number): AsyncGenerator<Uint8Array> {
  let offset = 0
  while (offset < bytes.length) {
    const size = 1 + rng.int(chunkMax)
    yield bytes.slice(offset, offset + size)
    offset += size
  }
}

export function varint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value))
  writeVarint(out, 0, value)
  return out
}

/** varint(len(body)) ‖ body, for hand-made headers and sections. */
export function framed(body: Uint8Array): Uint8Array {
  return concatBytes([varint(body.length), body])
}

export function sectionBytes(block: CarBlock): Uint8Array {
  return framed(concatBytes([block.cid.bytes, block.bytes]))
}

/** A CAR from a header value (any CBOR-encodable value) and raw sections. */
export function handMadeCar(header: unknown, sections: readonly Uint8Array[]): Uint8Array {
  return concatBytes([framed(encodeCbor(header)), ...sections])
}

export async function readAll(
  source: ByteSource,
  options?: ReadCarOptions,
): Promise<{ roots: CID[]; blocks: CarBlock[] }> {
  const car = await readCar(source, options)
  const blocks: CarBlock[] = []
  for await (const block of car.blocks) blocks.push(block)
  return { roots: car.roots, blocks }
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/** Blocks as comparable [cid string, hex bytes] pairs. */
export function blockPairs(blocks: Iterable<CarBlock>): Array<[string, string]> {
  return Array.from(blocks, (block) => [block.cid.toString(), hex(block.bytes)])
}
