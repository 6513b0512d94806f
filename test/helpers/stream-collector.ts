/**
 * A firehose consumer for end-to-end tests: a core/stream SubscriptionClient
 * that keeps every event it is handed (seq, decoded event, frame bytes) and
 * waits on conditions over them.
 *
 * It survives a server that goes away for a while (a relay being killed and
 * restarted): quick reconnects (backoff 20–200 ms) for up to
 * RECONNECT_FAILURES_MAX attempts in a row, each resuming from the last seq
 * it handed out, as any consumer would. The client drops an event whose seq
 * does not advance and counts it in `client.stats().duplicates`; a test of
 * "no duplicates" asserts that count is 0 as well as looking at the events.
 */
import type { InfoMessage, StreamEvent } from '../../core/stream/events.ts'
import { SubscriptionClient } from '../../core/stream/subscription-client.ts'

const RECONNECT_FAILURES_MAX = 1_000
/**
 * A server that is listening but not yet serving (a relay opening its
 * database after a restart) may leave an upgrade unanswered; give up on it
 * soon and try again rather than wait the default 10 s.
 */
const HANDSHAKE_TIMEOUT_MS = 2_000

export type CollectedEvent = { seq: number; event: StreamEvent; frameBytes: Uint8Array }

export type StreamCollector = {
  readonly events: CollectedEvent[]
  readonly infos: InfoMessage[]
  readonly client: SubscriptionClient
  /** Why the client stopped on its own (null while it runs or after close()). */
  error(): unknown
  /** Resolves once `check()` holds, polling; rejects after `timeoutMs` or when the client failed. */
  until(check: () => boolean, what: string, timeoutMs?: number): Promise<void>
  close(): void
}

export function collectStream(url: string, options: { cursor?: number | null } = {}): StreamCollector {
  const client = new SubscriptionClient({
    url,
    cursor: options.cursor ?? null,
    backoffMsMin: 20,
    backoffMsMax: 200,
    failuresMax: RECONNECT_FAILURES_MAX,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  })
  let failure: unknown = null
  const collector: StreamCollector = {
    events: [],
    infos: [],
    client,
    error: () => failure,
    until: async (check, what, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs
      while (!check()) {
        if (failure !== null) throw new Error(`stream failed while waiting for ${what}`, { cause: failure })
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${collector.events.length} events)`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
    close: () => client.close(),
  }
  void (async () => {
    try {
      for await (const message of client) {
        if (message.kind === 'event') collector.events.push({ seq: message.event.seq, event: message.event, frameBytes: message.frameBytes })
        else if (message.kind === 'info') collector.infos.push(message.info)
        else throw message.error
      }
    } catch (err) {
      failure = err
    }
  })()
  return collector
}

/** The DID an event is about (`repo` on #commit, `did` on the others). */
export function eventDid(event: StreamEvent): string {
  return event.t === '#commit' ? event.repo : event.did
}
