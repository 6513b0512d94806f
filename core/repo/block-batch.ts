/**
 * Collects blocks and hands them to an async writer in batches bounded by
 * BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX blocks and BLOCK_STORE_WRITE_BATCH_BYTES_MAX
 * bytes, keeping one write in flight while the next batch fills (parsing and
 * hashing a CAR overlaps with level writing on its worker thread). Memory is
 * at most two batches.
 *
 * Always end with `drain()` on success, or `settle()` on any exit path (e.g.
 * in a `finally`), so no write is still running when the caller moves on.
 * A failed write surfaces at the next `add`/`drain`.
 */
import { BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX, BLOCK_STORE_WRITE_BATCH_BYTES_MAX } from '../limits.ts'
import type { CarBlock } from './car/section.ts'

export class BlockBatch {
  private blocks: CarBlock[] = []
  private bytes = 0
  private inFlight: Promise<unknown> | null = null

  constructor(private readonly write: (blocks: CarBlock[]) => Promise<unknown>) {}

  async add(block: CarBlock): Promise<void> {
    this.blocks.push(block)
    this.bytes += block.bytes.length
    if (this.blocks.length >= BLOCK_STORE_WRITE_BATCH_BLOCKS_MAX || this.bytes >= BLOCK_STORE_WRITE_BATCH_BYTES_MAX) {
      await this.send()
    }
  }

  /** Writes what is pending and waits for every write. */
  async drain(): Promise<void> {
    await this.send()
    await this.wait()
  }

  /** Waits for the write in flight, ignoring its outcome (for cleanup paths). */
  async settle(): Promise<void> {
    const pending = this.inFlight
    this.inFlight = null
    if (pending !== null) await pending.catch(() => {})
  }

  private async send(): Promise<void> {
    await this.wait()
    if (this.blocks.length === 0) return
    const blocks = this.blocks
    this.blocks = []
    this.bytes = 0
    const write = this.write(blocks)
    write.catch(() => {}) // observed by wait(); this keeps it from counting as unhandled meanwhile
    this.inFlight = write
  }

  private async wait(): Promise<void> {
    const pending = this.inFlight
    this.inFlight = null
    if (pending !== null) await pending
  }
}
