/**
 * The Jetstream clock: how each JSON message gets its `time_us`.
 *
 * One log event becomes `slots` messages (a #commit one per op, #identity
 * and #account one each, anything else none). The event gets a base time
 *
 *   base = max(min(eventTimeUs, capUs), prevEnd)      end = base + slots
 *
 * and its k-th message `time_us = base + k`. `prevEnd` is the previous
 * event's `end`, so along the log `time_us` is strictly increasing: that is
 * what makes it a cursor. `eventTimeUs` is the event's own `time` (what the
 * relay passed through), so `time_us` tracks wall-clock time; `capUs` (the
 * relay's clock + JETSTREAM_FUTURE_TIME_TOLERANCE_MS when the event was first
 * stamped) stops one future-dated event from pushing every later one ahead.
 *
 * The recurrence is a pure function of (prevEnd, event), so any reader that
 * starts from a checkpoint (seq, end) of the time index and walks the log
 * gets the same numbers as the index did (clamped events are the exception:
 * their base is remembered by the index, see time-index.ts).
 */
import { datetimeToMs } from '../../core/syntax/datetime.ts'
import type { StreamMessage } from '../../core/stream/events.ts'

/** The event's `time` in µs (fraction digits past ms are kept, up to µs). */
export function datetimeToUs(time: Parameters<typeof datetimeToMs>[0]): number {
  const ms = datetimeToMs(time)
  const fraction = /\.(\d+)/.exec(time)?.[1] ?? ''
  const subMs = fraction.length > 3 ? Number(fraction.slice(3, 6).padEnd(3, '0')) : 0
  return ms * 1000 + subMs
}

/** How many messages an event turns into (before any filter). */
export function messageSlots(event: StreamMessage | null): number {
  if (event === null) return 0
  switch (event.t) {
    case '#commit':
      return event.ops.length
    case '#identity':
    case '#account':
      return 1
    case '#sync':
    case '#info':
      return 0
  }
}

export type Stamp = { base: number; end: number; clamped: boolean }

/**
 * Base and end time of one event. `eventUs` null (an event without a time,
 * or one we could not read) starts right after its predecessor.
 */
export function stampEvent(prevEnd: number, eventUs: number | null, options: { slots: number; capUs: number }): Stamp {
  if (eventUs === null) return { base: prevEnd, end: prevEnd + options.slots, clamped: false }
  const clamped = eventUs > options.capUs
  const base = Math.max(clamped ? options.capUs : eventUs, prevEnd)
  return { base, end: base + options.slots, clamped }
}
