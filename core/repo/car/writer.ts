/**
 * CAR v1 writers. Output is byte-identical to @ipld/car's CarWriter (same
 * header map, same section layout), so any CAR reader accepts it.
 *
 * `writeCar` streams: small sections are packed into CAR_WRITE_CHUNK_BYTES
 * chunks (one allocation per chunk instead of three tiny pieces per block,
 * which is what makes it fast), a section bigger than a chunk goes out as a
 * chunk of its own. Memory is one chunk plus whatever the consumer holds; a
 * yielded chunk is never written to again, so consumers may keep it.
 *
 * `encodeCarBytes` is the one-allocation form for small CARs (firehose diffs).
 *
 * Neither writer hashes blocks: callers hand over blocks they produced or
 * already verified. A CID that is not 36 bytes is our bug (assert).
 */
import { assert } from '../../errors.ts'
import { CAR_WRITE_CHUNK_BYTES } from '../../limits.ts'
import { CID_BINARY_BYTES } from '../../data/cid.ts'
import type { CID } from '../../data/cid.ts'
import { encodeCarHeader } from './header.ts'
import { blocksOf } from './section.ts'
import type { BlockSource, CarBlock } from './section.ts'
import { varintLength, writeVarint } from './varint.ts'

/** Streams a CAR with `root` (or no root, for getBlocks) and `blocks` in order. */
export async function* writeCar(
  root: CID | null,
  blocks: BlockSource | AsyncIterable<CarBlock>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const header = encodeCarHeader(root)
  let chunk = new Uint8Array(CAR_WRITE_CHUNK_BYTES)
  let used = writeVarint(chunk, 0, header.length)
  chunk.set(header, used)
  used += header.length
  const source = Symbol.asyncIterator in blocks ? blocks : blocksOf(blocks)
  for await (const block of source) {
    const total = sectionTotalBytes(block)
    if (used + total > chunk.length && used > 0) {
      yield chunk.subarray(0, used)
      chunk = new Uint8Array(CAR_WRITE_CHUNK_BYTES)
      used = 0
    }
    if (total > chunk.length) {
      const big = new Uint8Array(total)
      writeSection(big, 0, block)
      yield big
      continue
    }
    used = writeSection(chunk, used, block)
  }
  if (used > 0) yield chunk.subarray(0, used)
}

/** A whole CAR in one buffer; for small CARs only (firehose event diffs). */
export function encodeCarBytes(root: CID | null, blocks: BlockSource): Uint8Array {
  const header = encodeCarHeader(root)
  const list = Array.from(blocksOf(blocks))
  let total = varintLength(header.length) + header.length
  for (const block of list) total += sectionTotalBytes(block)
  const out = new Uint8Array(total)
  let offset = writeVarint(out, 0, header.length)
  out.set(header, offset)
  offset += header.length
  for (const block of list) offset = writeSection(out, offset, block)
  assert(offset === total, 'CAR size mismatch')
  return out
}

function sectionTotalBytes(block: CarBlock): number {
  assert(block.cid.bytes.length === CID_BINARY_BYTES, 'CAR blocks must have 36-byte CIDs')
  const length = CID_BINARY_BYTES + block.bytes.length
  return varintLength(length) + length
}

function writeSection(target: Uint8Array, offset: number, block: CarBlock): number {
  offset = writeVarint(target, offset, CID_BINARY_BYTES + block.bytes.length)
  target.set(block.cid.bytes, offset)
  target.set(block.bytes, offset + CID_BINARY_BYTES)
  return offset + CID_BINARY_BYTES + block.bytes.length
}
