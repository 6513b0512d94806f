/**
 * A pull-based byte queue over an async chunk source (an HTTP body, a file
 * stream) or one in-memory buffer, for the streaming CAR reader.
 *
 * It only pulls from the source while fewer bytes are buffered than the
 * caller asked for, so memory is bounded by the largest single read (one CAR
 * section, itself bounded) plus one source chunk. Reads within one chunk are
 * zero-copy subarrays; reads spanning chunks are copied into a fresh buffer.
 * The whole input is never concatenated.
 */
import { assert, AtfedError } from '../../errors.ts'

export type ByteSource = Uint8Array | AsyncIterable<Uint8Array>

export class ByteQueue {
  #chunks: Uint8Array[] = []
  /** Bytes of `#chunks[0]` already consumed. */
  #offset = 0
  #buffered = 0
  #source: AsyncIterator<Uint8Array> | null
  /** True when reads alias the caller's own single buffer (nothing to free). */
  readonly inMemory: boolean

  constructor(source: ByteSource) {
    if (source instanceof Uint8Array) {
      this.inMemory = true
      this.#source = null
      this.#push(source)
    } else {
      this.inMemory = false
      this.#source = source[Symbol.asyncIterator]()
    }
  }

  get buffered(): number {
    return this.#buffered
  }

  /** Pulls until at least `n` bytes are buffered or the source ends; returns the buffered count. */
  async fill(n: number): Promise<number> {
    while (this.#buffered < n && this.#source !== null) {
      const next = await this.#source.next()
      if (next.done === true) {
        this.#source = null
        break
      }
      this.#push(next.value)
    }
    return this.#buffered
  }

  /** The next `n` (≤ buffered) bytes without consuming them. */
  peek(n: number): Uint8Array {
    const first = this.#chunks[0]
    if (first !== undefined && first.length - this.#offset >= n) {
      return first.subarray(this.#offset, this.#offset + n)
    }
    return this.#gather(n, false)
  }

  /** Consumes `n` (≤ buffered) bytes. */
  skip(n: number): void {
    while (n > 0) {
      const first = this.#chunks[0]
      assert(first !== undefined, 'skip past the buffered bytes')
      const take = Math.min(n, first.length - this.#offset)
      this.#advance(take)
      n -= take
    }
  }

  /**
   * Consumes exactly `n` bytes; 'TruncatedCar' if the source ends first. With
   * `copy`, the result never aliases a source chunk (so keeping it does not
   * keep the whole chunk alive); an in-memory source is never copied.
   */
  async read(n: number, options: { copy?: boolean } = {}): Promise<Uint8Array> {
    if (this.#buffered < n && (await this.fill(n)) < n) {
      throw new AtfedError('TruncatedCar', `CAR ends ${n - this.#buffered} bytes early`)
    }
    const first = this.#chunks[0]
    if (first !== undefined && first.length - this.#offset >= n) {
      const start = this.#offset
      this.#advance(n)
      const copy = options.copy === true && !this.inMemory
      return copy ? first.slice(start, start + n) : first.subarray(start, start + n)
    }
    return this.#gather(n, true)
  }

  /** Ends the source early (e.g. destroys an HTTP body). Idempotent. */
  async close(): Promise<void> {
    const source = this.#source
    this.#source = null
    this.#chunks = []
    this.#buffered = 0
    if (source?.return !== undefined) await source.return()
  }

  #push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
  }

  #advance(n: number): void {
    this.#buffered -= n
    this.#offset += n
    const first = this.#chunks[0]
    if (first !== undefined && this.#offset === first.length) {
      this.#chunks.shift()
      this.#offset = 0
    }
  }

  /** Copies `n` bytes spanning chunks into one buffer; consumes them if `consume`. */
  #gather(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n)
    let written = 0
    let index = 0
    let offset = this.#offset
    while (written < n) {
      const chunk = this.#chunks[index]
      if (chunk === undefined) throw new AtfedError('TruncatedCar', 'CAR ends early')
      const take = Math.min(n - written, chunk.length - offset)
      out.set(chunk.subarray(offset, offset + take), written)
      written += take
      offset += take
      if (offset === chunk.length) {
        index++
        offset = 0
      }
    }
    if (consume) {
      this.#chunks.splice(0, index)
      this.#offset = offset
      this.#buffered -= n
    }
    return out
  }
}
