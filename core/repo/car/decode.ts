/**
 * Synchronous CAR v1 decoding of one in-memory buffer, for small CARs
 * (firehose `blocks`, `#sync` and proof CARs). Same strictness and error
 * names as the streaming reader (reader.ts).
 *
 * Blocks alias `bytes` (subarrays, no copies): the caller's buffer must not
 * be mutated afterwards. Duplicate blocks are tolerated (the map keeps one).
 */
import { AtfedError } from '../../errors.ts'
import { CAR_HEADER_BYTES_MAX } from '../../limits.ts'
import type { CID } from '../../data/cid.ts'
import { MemoryBlockMap } from '../block-reader.ts'
import { decodeCarHeader, singleRoot } from './header.ts'
import { parseSection, sectionRules } from './section.ts'
import type { CarBlock, ReadCarOptions } from './section.ts'
import { decodeVarint } from './varint.ts'

export function decodeCarBytes(
  bytes: Uint8Array,
  options: ReadCarOptions = {},
): { roots: CID[]; blocks: MemoryBlockMap } {
  const { roots, sections } = iterateCarBytes(bytes, options)
  const blocks = new MemoryBlockMap()
  for (const block of sections) blocks.set(block.cid, block.bytes)
  return { roots, blocks }
}

/** `decodeCarBytes` requiring exactly one root ('InvalidCarRoots'). */
export function decodeCarWithSingleRoot(
  bytes: Uint8Array,
  options: ReadCarOptions = {},
): { root: CID; blocks: MemoryBlockMap } {
  const { roots, blocks } = decodeCarBytes(bytes, options)
  return { root: singleRoot(roots), blocks }
}

/** Header now, sections lazily; each section is checked as it is reached. */
export function iterateCarBytes(
  bytes: Uint8Array,
  options: ReadCarOptions = {},
): { roots: CID[]; sections: Generator<CarBlock, void, undefined> } {
  if (bytes.length === 0) throw new AtfedError('TruncatedCar', 'CAR is empty')
  const header = decodeVarint(bytes, 0, { max: CAR_HEADER_BYTES_MAX, onTooLarge: 'InvalidCar' })
  if (header.value === 0) throw new AtfedError('InvalidCar', 'CAR header is empty')
  const start = header.length
  const end = start + header.value
  if (end > bytes.length) throw new AtfedError('TruncatedCar', 'CAR ends inside its header')
  const roots = decodeCarHeader(bytes.subarray(start, end))
  return { roots, sections: sectionsFrom(bytes, end, options) }
}

function* sectionsFrom(bytes: Uint8Array, offset: number, options: ReadCarOptions): Generator<CarBlock, void, undefined> {
  const rules = sectionRules(options)
  while (offset < bytes.length) {
    const { value, length } = decodeVarint(bytes, offset, { max: rules.sectionBytesMax, onTooLarge: 'BlockTooLarge' })
    const start = offset + length
    const end = start + value
    if (end > bytes.length) throw new AtfedError('TruncatedCar', 'CAR ends inside a block section')
    yield parseSection(bytes.subarray(start, end), rules)
    offset = end
  }
}
