/**
 * Streaming CAR v1 reader. `readCar` reads and checks the header, then hands
 * back the roots and an async generator of verified blocks:
 *
 *   const car = await readCar(request)          // header checked here
 *   for await (const { cid, bytes } of car.blocks) …
 *
 * Strict on everything (see varint.ts, header.ts, section.ts); error names:
 * 'TruncatedCar' (input ends inside the header, a varint or a section),
 * 'InvalidCar' (malformed), 'BlockTooLarge', 'CidMismatch', 'InvalidCarRoots'.
 * A CAR that ends exactly between sections is complete: CAR v1 has no
 * trailer, so truncation at a section boundary cannot be detected here (the
 * repo walk notices the missing blocks).
 *
 * Memory stays flat: one section at a time, and blocks are copied out of the
 * source chunks so keeping a few blocks does not pin whole chunks (with a
 * Uint8Array source they are subarrays of it instead). Duplicate blocks are passed through (callers keep the first or the
 * last; the bytes are identical since both were verified). The generator
 * yields to the event loop every CAR_READ_YIELD_BLOCKS blocks so an
 * in-memory CAR cannot starve other work.
 *
 * Lifecycle: the source is closed when the blocks are exhausted, on error,
 * and on `blocks.return()` (a `break` out of `for await`), even if iteration
 * never started. Abandoning `blocks` without any of these leaves the source
 * open.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { AtfedError } from '../../errors.ts'
import { CAR_HEADER_BYTES_MAX, CAR_READ_YIELD_BLOCKS, CAR_VARINT_BYTES_MAX } from '../../limits.ts'
import type { CID } from '../../data/cid.ts'
import { ByteQueue } from './byte-queue.ts'
import type { ByteSource } from './byte-queue.ts'
import { decodeCarHeader, singleRoot } from './header.ts'
import { parseSection, sectionRules } from './section.ts'
import type { CarBlock, ReadCarOptions, SectionRules } from './section.ts'
import { decodeVarint } from './varint.ts'

export type CarBlockStream = AsyncGenerator<CarBlock, void, undefined>
export type CarStream = { roots: CID[]; blocks: CarBlockStream }

export async function readCar(source: ByteSource, options: ReadCarOptions = {}): Promise<CarStream> {
  const queue = new ByteQueue(source)
  try {
    const headerLength = await readLength(queue, { max: CAR_HEADER_BYTES_MAX, onTooLarge: 'InvalidCar' })
    if (headerLength === null) throw new AtfedError('TruncatedCar', 'CAR is empty')
    if (headerLength === 0) throw new AtfedError('InvalidCar', 'CAR header is empty')
    const roots = decodeCarHeader(await queue.read(headerLength))
    return { roots, blocks: closeOnReturn(readBlocks(queue, sectionRules(options)), queue) }
  } catch (err) {
    await queue.close()
    throw err
  }
}

/** `readCar` for repo exports, proofs and imports: exactly one root ('InvalidCarRoots'). */
export async function readCarWithSingleRoot(
  source: ByteSource,
  options: ReadCarOptions = {},
): Promise<{ root: CID; blocks: CarBlockStream }> {
  const car = await readCar(source, options)
  try {
    return { root: singleRoot(car.roots), blocks: car.blocks }
  } catch (err) {
    await car.blocks.return()
    throw err
  }
}

/** Reads one length varint; null at a clean end of input. */
async function readLength(
  queue: ByteQueue,
  options: { max: number; onTooLarge: 'BlockTooLarge' | 'InvalidCar' },
): Promise<number | null> {
  const available = await queue.fill(CAR_VARINT_BYTES_MAX)
  if (available === 0) return null
  const { value, length } = decodeVarint(queue.peek(Math.min(available, CAR_VARINT_BYTES_MAX)), 0, options)
  queue.skip(length)
  return value
}

async function* readBlocks(queue: ByteQueue, rules: SectionRules): CarBlockStream {
  try {
    let count = 0
    for (;;) {
      const length = await readLength(queue, { max: rules.sectionBytesMax, onTooLarge: 'BlockTooLarge' })
      if (length === null) return
      yield parseSection(await queue.read(length, { copy: true }), rules)
      if (++count % CAR_READ_YIELD_BLOCKS === 0) await yieldToEventLoop()
    }
  } finally {
    await queue.close()
  }
}

/** Makes `blocks.return()` close the source even before the first `next()`. */
function closeOnReturn(blocks: CarBlockStream, queue: ByteQueue): CarBlockStream {
  const finish = blocks.return.bind(blocks)
  blocks.return = async (value) => {
    try {
      return await finish(value)
    } finally {
      await queue.close()
    }
  }
  return blocks
}
