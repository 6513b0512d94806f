/**
 * A firehose consumer that resumes from its cursor across restarts of the
 * server it reads: `resume(url)` drops the old connection and subscribes
 * again with cursor = the last seq it holds (0 the first time), keeping
 * every event in one list. `duplicates` counts seqs the server sent again
 * (the client drops them). A short handshake timeout, because a server that
 * is listening but still starting may leave the first upgrade unanswered.
 */
import type { StreamCollector } from '../helpers/stream-collector.ts'
import { collectStream } from '../helpers/stream-collector.ts'
import type { CollectedEvent } from '../helpers/stream-collector.ts'

export class ResumingConsumer {
  readonly events: CollectedEvent[] = []
  duplicates = 0
  #current: StreamCollector | null = null
  #taken = 0

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0
  }

  resume(url: string): void {
    this.#takeNew()
    this.close()
    this.#current = collectStream(url, { cursor: this.lastSeq })
    this.#taken = 0
  }

  /** Resolves once the consumer holds seq `seq` (bounded). */
  async reach(seq: number, timeoutMs: number): Promise<void> {
    const current = this.#current
    if (current === null) throw new Error('the consumer is not subscribed')
    await current.until(() => {
      this.#takeNew()
      return this.lastSeq >= seq
    }, `the resumed consumer to reach seq ${seq}`, timeoutMs)
  }

  close(): void {
    if (this.#current === null) return
    this.duplicates += this.#current.client.stats().duplicates
    this.#current.close()
    this.#current = null
  }

  #takeNew(): void {
    const current = this.#current
    if (current === null) return
    for (const e of current.events.slice(this.#taken)) this.events.push(e)
    this.#taken = current.events.length
  }
}
