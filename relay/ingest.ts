/**
 * One upstream host's ingest: its stream messages in, outcomes counted, the
 * accepted events handed to the sequencer with the host's cursor.
 *
 * Each event is checked (verify.ts: identity, signature, inversion) as soon
 * as it arrives, up to RELAY_HOST_PIPELINE_EVENTS_MAX at once, and the
 * outcomes are applied (accept.ts) strictly in upstream order. Applying an
 * outcome, moving `cursor` to its upstream seq and submitting its event
 * happen in one synchronous step, which is what lets the sequencer persist
 * the cursor in the same batch as the events (sequencer.ts). Per-DID order
 * therefore holds, and so does the host's own order.
 *
 * Messages: `event` → checked and applied; `invalid` (a frame that decoded
 * but failed the event schema) → 'InvalidEvent' in its place in the order;
 * `info` → ignored. Frame-level failures (bad CBOR, oversized frames) reach
 * `connectionError` from the stream client, which drops the connection.
 */
import { RELAY_HOST_PIPELINE_EVENTS_MAX } from '../core/limits.ts'
import type { ClientMessage } from '../core/stream/subscription-client.ts'
import { acceptChecked } from './accept.ts'
import type { AcceptDeps, Outcome } from './accept.ts'
import { dropReasonForConnectionError } from './drop-reasons.ts'
import type { HostRecord, HostRegistry } from './hosts/host-registry.ts'
import type { Sequencer } from './sequencer.ts'
import { checkEvent, drop } from './verify.ts'
import type { CheckDeps, Checked } from './verify.ts'

export type IngestDeps = CheckDeps &
  AcceptDeps & {
    readonly hosts: HostRegistry
    readonly sequencer: Sequencer
    readonly pipelineMax?: number
    /** An unexpected failure inside a check (a bug, not bad input). */
    readonly onBug?: (err: unknown) => void
  }

type Slot = { readonly seq: number | null; checked: Checked | null }

/** Count an outcome against a host (shared with resync replays). */
export function recordOutcome(host: HostRecord, outcome: Outcome, deps: Pick<IngestDeps, 'hosts' | 'sequencer'>): void {
  switch (outcome.kind) {
    case 'accepted':
      deps.hosts.update(host, (r) => r.accepted++)
      void deps.sequencer.submit([outcome.event])
      return
    case 'dropped':
      deps.hosts.countDrop(host, outcome.reason, outcome.detail)
      deps.sequencer.poke()
      return
    case 'held':
      return
  }
}

export class HostIngest {
  readonly host: HostRecord
  readonly #deps: IngestDeps
  readonly #window: Slot[] = []
  #room: (() => void) | null = null
  #idle: (() => void) | null = null
  #backpressure: Promise<void> | null = null
  /** Messages taken (events and invalid ones); for tests and stats. */
  received = 0

  constructor(host: HostRecord, deps: IngestDeps) {
    this.host = host
    this.#deps = deps
  }

  /** Take the next message; resolves when the host may send another (pipeline and sequencer have room). */
  async push(message: ClientMessage): Promise<void> {
    if (message.kind === 'info') return
    this.received++
    if (message.kind === 'invalid') {
      this.#window.push({ seq: null, checked: drop('InvalidEvent', null, message.error.message) })
      this.#applyReady()
    } else {
      const slot: Slot = { seq: message.event.seq, checked: null }
      this.#window.push(slot)
      checkEvent(this.host.hostname, message.event, this.#deps).then(
        (checked) => this.#settle(slot, checked),
        (err: unknown) => {
          this.#deps.onBug?.(err)
          this.#settle(slot, drop('InvalidCommit', null, 'internal error while checking'))
        },
      )
    }
    while (this.#window.length >= (this.#deps.pipelineMax ?? RELAY_HOST_PIPELINE_EVENTS_MAX)) {
      await new Promise<void>((resolve) => (this.#room = resolve))
    }
    if (this.#backpressure !== null) await this.#backpressure
  }

  /** The stream client reported a connection problem; frame-level ones count as drops. */
  connectionError(err: unknown): void {
    const reason = dropReasonForConnectionError(err)
    if (reason === null) return
    this.#deps.hosts.countDrop(this.host, reason, err instanceof Error ? err.message : String(err))
    this.#deps.sequencer.poke()
  }

  /** Resolves once every message taken so far has been applied. */
  async drain(): Promise<void> {
    while (this.#window.length > 0) await new Promise<void>((resolve) => (this.#idle = resolve))
  }

  #settle(slot: Slot, checked: Checked): void {
    slot.checked = checked
    this.#applyReady()
  }

  /** Apply finished slots from the head of the window, in order. */
  #applyReady(): void {
    while (this.#window.length > 0 && (this.#window[0] as Slot).checked !== null) {
      const slot = this.#window.shift() as Slot
      try {
        const outcome = acceptChecked(this.host, slot.checked as Checked, this.#deps)
        if (slot.seq !== null) this.#deps.hosts.update(this.host, (r) => (r.cursor = slot.seq))
        this.#record(outcome)
      } catch (err) {
        this.#deps.onBug?.(err) // e.g. SequencerFailed: the relay is stopping
      }
    }
    const room = this.#room
    this.#room = null
    room?.()
    if (this.#window.length === 0) {
      const idle = this.#idle
      this.#idle = null
      idle?.()
    }
  }

  #record(outcome: Outcome): void {
    if (outcome.kind === 'accepted') {
      this.#deps.hosts.update(this.host, (r) => r.accepted++)
      const wait = this.#deps.sequencer.submit([outcome.event])
      if (wait !== null) this.#backpressure = wait.then(() => void (this.#backpressure = null))
      return
    }
    recordOutcome(this.host, outcome, this.#deps)
  }
}
