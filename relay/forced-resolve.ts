/**
 * Rate-limits forced DID re-resolutions (cache purge + fetch) per DID. A host
 * that floods events for a DID it does not serve would otherwise make the
 * relay ask the PLC directory once per event; with this gate it asks at most
 * once per RELAY_FORCED_RESOLVE_MIN_MS per DID. Bounded: the oldest entries
 * are forgotten past RELAY_FORCED_RESOLVE_ENTRIES_MAX.
 */
import { RELAY_FORCED_RESOLVE_ENTRIES_MAX, RELAY_FORCED_RESOLVE_MIN_MS } from '../core/limits.ts'
import type { Did } from '../core/syntax/did.ts'

export class ForcedResolveGate {
  readonly #last = new Map<Did, number>()
  readonly #minMs: number
  readonly #now: () => number

  constructor(options: { minMs?: number; now?: () => number } = {}) {
    this.#minMs = options.minMs ?? RELAY_FORCED_RESOLVE_MIN_MS
    this.#now = options.now ?? Date.now
  }

  /** True (and remembered) when `did` may be re-resolved now. */
  allow(did: Did): boolean {
    const now = this.#now()
    const last = this.#last.get(did)
    if (last !== undefined && now - last < this.#minMs) return false
    this.#last.delete(did)
    this.#last.set(did, now)
    if (this.#last.size > RELAY_FORCED_RESOLVE_ENTRIES_MAX) this.#last.delete(this.#last.keys().next().value as Did)
    return true
  }
}
