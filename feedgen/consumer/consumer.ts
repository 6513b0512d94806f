/**
 * FirehoseConsumer: follows a relay's (or a PDS's) `subscribeRepos` and
 * hands each event, checked and decoded (prepare-event.ts), to a handler.
 * Shared by the feed generator and the labeler.
 *
 * DELIVERY IS AT LEAST ONCE — HANDLERS MUST BE IDEMPOTENT. The cursor is
 * persisted only once the handler succeeded for every event up to it
 * (cursor-tracker.ts), so a crash replays the events after the last stored
 * cursor, some of which may already have been handled. A handler that stores
 * `ctx.cursorIfDone()` in the same atomic write as its effects narrows the
 * replay to events that were really in flight.
 *
 * Ordering: events of one repo (DID) are handled strictly in stream order,
 * one at a time (a repo's `#identity` refresh is ordered with its commits, so
 * a commit after a key rotation is checked with the new key). Events of
 * different repos run concurrently, at most `concurrency` at once.
 *
 * Backpressure: at most `queueMax` events are received but not yet handled.
 * At that bound the read loop stops pulling from the stream client, whose
 * own bounded queue then pauses the socket (TCP pushes back on the relay).
 * Nothing grows without bound.
 *
 * Failures:
 * - a frame that fails validation (`InvalidEvent`) or an event that fails
 *   verification is skipped and counted by error name (`stats().skippedBy`;
 *   an unexpected plain Error while decoding counts as `InternalError`); ops
 *   whose record cannot be read are dropped and counted; never a crash;
 * - a handler that throws is retried with capped backoff; after
 *   FEEDGEN_HANDLER_TRIES_MAX tries the consumer stops (`done` rejects with
 *   `HandlerFailed`) with its cursor before that event: an event is never
 *   skipped because the handler failed;
 * - connection problems: the stream client reconnects with backoff from the
 *   last event it received; if it gives up (`StreamUnreachable`) the consumer
 *   subscribes again after FEEDGEN_RESUBSCRIBE_DELAY_MS; `FutureCursor` (the
 *   upstream lost its history or is another relay) drains, then restarts
 *   live, counted in `cursorResets`.
 */
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import {
  FEEDGEN_HANDLER_BACKOFF_MS_MAX,
  FEEDGEN_HANDLER_BACKOFF_MS_MIN,
  FEEDGEN_HANDLER_TRIES_MAX,
  FEEDGEN_RESUBSCRIBE_DELAY_MS,
} from '../../core/limits.ts'
import { SubscriptionClient } from '../../core/stream/subscription-client.ts'
import type { ClientMessage } from '../../core/stream/subscription-client.ts'
import type { StreamEvent } from '../../core/stream/events.ts'
import { checkConsumerOptions, subscribeReposUrl } from './consumer-options.ts'
import type { ConsumerStats, FirehoseConsumerOptions } from './consumer-options.ts'
import { CursorTracker } from './cursor-tracker.ts'
import type { ConsumerEvent } from './events.ts'
import { prepareEvent } from './prepare-event.ts'
import type { PrepareOptions } from './prepare-event.ts'
import { RepoScheduler } from './repo-scheduler.ts'
import { CursorWriter } from './cursor-writer.ts'
import { Sleeper } from './sleeper.ts'

export class FirehoseConsumer {
  readonly #opts: FirehoseConsumerOptions
  readonly #url: string
  readonly #queueMax: number
  readonly #prepare: PrepareOptions
  readonly #scheduler: RepoScheduler
  readonly #sleeper = new Sleeper()
  #writer: CursorWriter | null = null
  #tracker = new CursorTracker(null)
  #client: SubscriptionClient | null = null
  #loop: Promise<void> | null = null
  #stopping = false
  #failure: AtfedError | null = null
  #doneResolve: (() => void) | null = null
  #doneReject: ((err: unknown) => void) | null = null
  #waiters: Array<{ seq: number; resolve: () => void; reject: (err: unknown) => void }> = []
  readonly #stats = {
    received: 0,
    handled: 0,
    byType: { commit: 0, identity: 0, account: 0, sync: 0 },
    skipped: 0,
    skippedBy: {} as { [name: string]: number },
    malformedOps: 0,
    handlerRetries: 0,
    identityRefreshFailures: 0,
    infos: 0,
    cursorResets: 0,
    resubscribes: 0,
  }
  /** Settles when the consumer has stopped: resolves after `stop()`, rejects with `HandlerFailed`. */
  readonly done: Promise<void>

  constructor(options: FirehoseConsumerOptions) {
    const { concurrency, queueMax } = checkConsumerOptions(options)
    this.#opts = options
    this.#url = subscribeReposUrl(options.url)
    this.#queueMax = queueMax
    this.#prepare = {
      verify: options.verify,
      resolver: options.resolver,
      collections: options.collections === undefined ? null : new Set(options.collections),
      allowMissingPrevData: options.allowMissingPrevData ?? false,
    }
    this.#scheduler = new RepoScheduler({ concurrency, onTaskError: (err) => this.#report(err, 'task') })
    this.done = new Promise<void>((resolve, reject) => {
      this.#doneResolve = resolve
      this.#doneReject = reject
    })
    this.done.catch(() => {}) // observed through `done` or stats; never an unhandled rejection
  }

  /** Load the stored cursor and start following the stream (from it, or live when there is none). */
  async start(): Promise<void> {
    if (this.#loop !== null) return
    const cursor = await this.#opts.cursorStore.get()
    this.#tracker = new CursorTracker(cursor)
    this.#writer = new CursorWriter(this.#opts.cursorStore, cursor, (err) => this.#report(err, 'cursor'))
    this.#loop = this.#run(cursor)
  }

  /**
   * Stop reading, let the events already queued be handled (a failing handler
   * is no longer retried), store the final cursor.
   */
  async stop(): Promise<void> {
    this.#stopping = true
    this.#client?.close()
    this.#sleeper.cancelAll()
    await this.#loop
    await this.#scheduler.idle()
    await this.#writer?.flush({ force: true })
    for (const w of this.#waiters) w.reject(this.#failure ?? new AtfedError('ConsumerStopped', 'consumer stopped'))
    this.#waiters = []
    if (this.#failure !== null) this.#doneReject?.(this.#failure)
    else this.#doneResolve?.()
  }

  /** Resolves once every event up to `seq` has been handled (or skipped). */
  whenHandled(seq: number): Promise<void> {
    const mark = this.#tracker.watermark
    if (mark !== null && mark >= seq) return Promise.resolve()
    if (this.#stopping) return Promise.reject(this.#failure ?? new AtfedError('ConsumerStopped', 'consumer stopped'))
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject }))
  }

  stats(): ConsumerStats {
    const s = this.#stats
    return {
      ...s,
      byType: { ...s.byType },
      skippedBy: { ...s.skippedBy },
      watermark: this.#tracker.watermark,
      persistedCursor: this.#writer?.persisted ?? null,
      pending: this.#scheduler.size,
      running: this.#scheduler.running,
      failed: this.#failure?.name ?? null,
      stream: this.#client?.stats() ?? null,
    }
  }

  async #run(startCursor: number | null): Promise<void> {
    let cursor = startCursor
    while (!this.#stopping) {
      const client = new SubscriptionClient({ ...this.#opts.client, url: this.#url, cursor, onConnectionError: (err) => this.#report(err, 'stream') })
      this.#client = client
      try {
        for await (const message of client) {
          await this.#scheduler.whenSizeBelow(this.#queueMax)
          if (this.#stopping) break
          this.#dispatch(message)
        }
      } catch (err) {
        if (this.#stopping) break
        this.#report(err, 'stream')
        if (isAtfedError(err, 'FutureCursor')) {
          await this.#scheduler.idle()
          this.#stats.cursorResets++
          this.#tracker = new CursorTracker(null)
          cursor = null
          continue
        }
        this.#stats.resubscribes++
        cursor = client.lastSeq ?? cursor
        await this.#sleeper.sleep(this.#opts.resubscribeDelayMs ?? FEEDGEN_RESUBSCRIBE_DELAY_MS)
      }
    }
  }

  #dispatch(message: ClientMessage): void {
    switch (message.kind) {
      case 'info':
        this.#stats.infos++
        this.#report(new AtfedError(message.info.name, message.info.message ?? 'info from upstream'), 'info')
        return
      case 'invalid':
        this.#skip(message.error.name)
        return
      case 'event': {
        const event = message.event
        const tracker = this.#tracker
        tracker.add(event.seq)
        this.#stats.received++
        this.#scheduler.push(event.t === '#commit' ? event.repo : event.did, () => this.#process(event, tracker))
        return
      }
    }
  }

  /** One event, inside its repo's turn. Marks the seq done unless the handler gave up. */
  async #process(event: StreamEvent, tracker: CursorTracker): Promise<void> {
    let persisted: number | null = null
    let prepared
    try {
      prepared = await prepareEvent(event, this.#prepare)
    } catch (err) {
      // A plain Error here is a bug on some decode path, most likely on hostile input: skip it
      // like any bad event (reported, counted as InternalError) rather than stall the cursor.
      if (!isAtfedError(err)) this.#report(err, 'prepare')
      this.#skip(isAtfedError(err) ? err.name : 'InternalError')
      prepared = null
    }
    if (prepared !== null) {
      this.#stats.malformedOps += prepared.malformedOps
      if (prepared.refreshError !== null) {
        this.#stats.identityRefreshFailures++
        this.#report(prepared.refreshError, 'identity')
      }
      const outcome = await this.#handle(prepared.event, tracker)
      if (outcome === 'failed') return
      persisted = outcome
      this.#stats.handled++
      this.#stats.byType[prepared.event.type]++
    }
    const mark = tracker.done(event.seq)
    if (mark === null || tracker !== this.#tracker) return
    this.#writer?.want(mark, persisted)
    this.#wakeWaiters(mark)
  }

  /** Runs the handler with retries; the cursor it stored, null, or 'failed'. */
  async #handle(event: ConsumerEvent, tracker: CursorTracker): Promise<number | null | 'failed'> {
    const ctx = { cursorIfDone: () => tracker.cursorIfDone(event.seq) }
    const backoffMin = this.#opts.handlerBackoffMsMin ?? FEEDGEN_HANDLER_BACKOFF_MS_MIN
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#opts.handler(event, ctx)
        return result?.cursorPersisted ?? null
      } catch (err) {
        this.#report(err, 'handler')
        if (this.#stopping) return 'failed'
        if (attempt >= FEEDGEN_HANDLER_TRIES_MAX) {
          this.#fail(new AtfedError('HandlerFailed', `handler failed ${attempt} times on seq ${event.seq}`, { cause: err }))
          return 'failed'
        }
        this.#stats.handlerRetries++
        await this.#sleeper.sleep(Math.min(FEEDGEN_HANDLER_BACKOFF_MS_MAX, backoffMin * 2 ** (attempt - 1)))
      }
    }
  }

  #skip(name: string): void {
    this.#stats.skipped++
    this.#stats.skippedBy[name] = (this.#stats.skippedBy[name] ?? 0) + 1
  }

  #fail(err: AtfedError): void {
    if (this.#failure !== null) return
    this.#failure = err
    void this.stop()
  }

  #wakeWaiters(mark: number): void {
    if (this.#waiters.length === 0) return
    const still = []
    for (const w of this.#waiters) {
      if (w.seq <= mark) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }

  #report(err: unknown, where: string): void {
    this.#opts.onError?.(err, where)
  }
}
