/**
 * Getting an untrusted repo CAR somewhere it can be checked, with bounded
 * memory.
 *
 * `stageRepoCar` streams the CAR's blocks (each re-hashed by the CAR reader,
 * at most `blocksMax`: 'TooManyBlocks') into a level store under a key space
 * of its own (`namespace`), in bounded batches (block-batch.ts), then runs the
 * full repo check (verify-repo.ts) reading the blocks back with synchronous
 * point reads. Only two write batches and one MST node per layer are ever in
 * memory, whatever the repo size. `streamCarInto` is its first half alone,
 * for import.ts's direct path (blocks streamed into the account's own key
 * space, checked through a reader of its own).
 *
 * `bufferSmallCar` reads a source up to `bytesMax`: a CAR that fits is
 * returned whole (checking it in memory is several times faster than through
 * level); a bigger one comes back as a source that replays what was read and
 * continues with the rest, for `stageRepoCar`.
 */
import { AtfedError } from '../errors.ts'
import { CAR_BLOCKS_MAX } from '../limits.ts'
import type { CID } from '../data/cid.ts'
import type { Did } from '../syntax/did.ts'
import { BlockBatch } from './block-batch.ts'
import type { LevelRepoStore } from './block-store.ts'
import type { ByteSource } from './car/byte-queue.ts'
import { readCarWithSingleRoot } from './car/reader.ts'
import type { CarBlock, ReadCarOptions } from './car/section.ts'
import { verifyRepoBlocks } from './verify-repo.ts'
import type { CarStats, RepoCheckOptions, VerifiedRepo } from './verify-repo.ts'

export type StageRepoOptions = RepoCheckOptions &
  Pick<ReadCarOptions, 'blockBytesMax'> & {
    store: LevelRepoStore
    /** The key space the blocks go under (DID-shaped; not an account). */
    namespace: Did
    blocksMax?: number
  }

export type ImportedRepo = VerifiedRepo & CarStats

export async function stageRepoCar(source: ByteSource, options: StageRepoOptions): Promise<ImportedRepo> {
  const { root, blocks, bytes } = await streamCarInto(source, options)
  const verified = verifyRepoBlocks(options.store.readerFor(options.namespace), root, options)
  return { ...verified, blocks, bytes }
}

/**
 * Streams a CAR's blocks (re-hashed by the reader; at most `blocksMax`:
 * 'TooManyBlocks') into `namespace`, each block also shown to `onBlock`;
 * returns its root and size. Checks nothing about the repo.
 */
export async function streamCarInto(
  source: ByteSource,
  options: Omit<StageRepoOptions, keyof RepoCheckOptions> & { onBlock?: (block: CarBlock) => void },
): Promise<{ root: CID } & CarStats> {
  const { store, namespace, onBlock } = options
  const blocksMax = options.blocksMax ?? CAR_BLOCKS_MAX
  const counter = { bytes: 0 }
  const input = source instanceof Uint8Array ? source : countBytes(source, counter)
  const car = await readCarWithSingleRoot(input, { blockBytesMax: options.blockBytesMax })
  const batch = new BlockBatch((some) => store.writeBlocks(namespace, some))
  let blocks = 0
  try {
    for await (const block of car.blocks) {
      if (++blocks > blocksMax) throw new AtfedError('TooManyBlocks', `CAR has more than ${blocksMax} blocks`)
      onBlock?.(block)
      await batch.add(block)
    }
    await batch.drain()
  } finally {
    await batch.settle()
  }
  return { root: car.root, blocks, bytes: source instanceof Uint8Array ? source.length : counter.bytes }
}

/** `close()` releases the source even if `stream` is never read to the end. */
export type BufferedCar = { whole: Uint8Array } | { whole: null; stream: ByteSource; close(): Promise<void> }

export async function bufferSmallCar(source: ByteSource, bytesMax: number): Promise<BufferedCar> {
  if (source instanceof Uint8Array) {
    return source.length <= bytesMax ? { whole: source } : { whole: null, stream: source, close: async () => {} }
  }
  const iterator = source[Symbol.asyncIterator]()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    while (total <= bytesMax) {
      const step = await iterator.next()
      if (step.done === true) return { whole: Buffer.concat(chunks, total) }
      chunks.push(step.value)
      total += step.value.length
    }
  } catch (err) {
    await iterator.return?.()
    throw err
  }
  const close = async () => {
    await iterator.return?.()
  }
  return { whole: null, stream: replay(chunks, iterator), close }
}

async function* replay(chunks: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    while (chunks.length > 0) yield chunks.shift()!
    for (;;) {
      const step = await rest.next()
      if (step.done === true) return
      yield step.value
    }
  } finally {
    await rest.return?.()
  }
}

async function* countBytes(source: AsyncIterable<Uint8Array>, counter: { bytes: number }): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    counter.bytes += chunk.length
    yield chunk
  }
}
