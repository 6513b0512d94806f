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
  reach(seq: number, timeoutMs: number): Promise<void> {
    return this.#wait(() => this.lastSeq >= seq, `the resumed consumer to reach seq ${seq}`, timeoutMs)
  }

  /** Resolves once an event matching `match` arrives (bounded). */
  until(match: (event: CollectedEvent) => boolean, timeoutMs: number): Promise<void> {
    const from = this.events.length
    return this.#wait(() => this.events.slice(from).some(match), 'a matching event', timeoutMs)
  }

  async #wait(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    const current = this.#current
    if (current === null) throw new Error('the consumer is not subscribed')
    await current.until(() => {
      this.#takeNew()
      return check()
    }, what, timeoutMs)
  }

  /** Differences from `replay` (a replay from cursor 0): the consumer must hold exactly its seqs and frames. */
  async differences(replay: readonly CollectedEvent[], timeoutMs: number): Promise<string[]> {
    await this.reach(replay.at(-1)?.seq ?? 0, timeoutMs)
    const problems: string[] = []
    if (this.duplicates > 0) problems.push(`the resumed consumer was sent ${this.duplicates} seqs twice`)
    if (this.events.length < replay.length) problems.push(`the resumed consumer holds ${this.events.length} events, the replay ${replay.length}`)
    replay.forEach((r, i) => {
      const e = this.events[i]
      if (e === undefined || e.seq !== r.seq || !Buffer.from(e.frameBytes).equals(Buffer.from(r.frameBytes))) problems.push(`the resumed consumer's event ${i} is not the replay's seq ${r.seq}`)
    })
    return problems.slice(0, 5)
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
