/**
 * Turns label requests into signed, stored labels: the one place that
 * stamps `src` (our DID) and `cts` (now), checks every field (label.ts),
 * signs (label-sign.ts) and hands the result to the store's single writer.
 * Rules (rule-engine.ts) and the admin API (admin.ts) both come through here.
 *
 * `emit` with `when: 'new-for-cid'` first drops requests the index already
 * answers (no signature spent on a replayed firehose event); the writer
 * checks again inside its queue, which is what makes it exact. `negate`
 * copies the cid of the label it retracts and is refused with
 * `LabelNotFound` when there is no active label for (uri, val).
 */
import type { Keypair } from '../../core/crypto/keypair.ts'
import { AtfedError } from '../../core/errors.ts'
import { datetimeFromDate, datetimeToMs, parseDatetime } from '../../core/syntax/datetime.ts'
import type { Datetime } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseLabelCid, parseLabelSubject, parseLabelValue } from './label.ts'
import type { SignedLabel, UnsignedLabel } from './label.ts'
import { signLabel } from './label-sign.ts'
import type { WriteCondition, WriteOutcome, WriteResult } from './label-writer.ts'
import type { LabelStore } from './store.ts'

/** What a caller asks for; checked here (`InvalidLabelValue`, `InvalidLabelSubject`, `InvalidDatetime`). */
export type LabelRequest = { readonly uri: string; readonly cid?: string; readonly val: string; readonly exp?: string }

export type EmitterOptions = { did: Did; signingKey: Keypair; store: LabelStore; now?: () => number }

export class LabelEmitter {
  readonly did: Did
  readonly #key: Keypair
  readonly #store: LabelStore
  readonly #now: () => number

  constructor(options: EmitterOptions) {
    this.did = options.did
    this.#key = options.signingKey
    this.#store = options.store
    this.#now = options.now ?? Date.now
  }

  /**
   * The checked, unsigned label for a request. `cts` is now, or 1 ms after
   * `after` (the triple's current label) when that one is not older — a
   * label and its negation in the same millisecond: "the latest cts wins"
   * must hold for our own labels.
   */
  build(request: LabelRequest, options: { neg?: boolean; after?: SignedLabel | null } = {}): UnsignedLabel {
    const uri = parseLabelSubject(request.uri)
    const label: { -readonly [K in keyof UnsignedLabel]: UnsignedLabel[K] } = {
      ver: 1,
      src: this.did,
      uri,
      val: parseLabelValue(request.val),
      cts: this.#ctsAfter(options.after ?? null),
    }
    if (request.cid !== undefined) label.cid = parseLabelCid(request.cid, uri)
    if (options.neg === true) label.neg = true
    if (request.exp !== undefined) label.exp = parseDatetime(request.exp)
    return label
  }

  #ctsAfter(previous: SignedLabel | null): Datetime {
    const previousMs = previous === null ? -Infinity : datetimeToMs(previous.cts)
    return datetimeFromDate(new Date(Math.max(this.#now(), previousMs + 1)))
  }

  /** Sign and store; `outcomes` line up with `requests` (requests dropped by the `new-for-cid` pre-check read `exists`). */
  async emit(requests: readonly LabelRequest[], options: { when: WriteCondition; cursor?: () => number | null }): Promise<WriteResult> {
    const probes = requests.map((r) => this.build(r))
    const present = await Promise.all(probes.map((l) => this.#store.current(l.uri, l.src, l.val)))
    const fresh = probes.flatMap((label, i) => {
      const current = present[i] ?? null
      return options.when === 'new-for-cid' && current !== null && current.cid === label.cid ? [] : [i]
    })
    const writes = fresh.map((i) => {
      const label = { ...(probes[i] as UnsignedLabel), cts: this.#ctsAfter(present[i] ?? null) }
      return { label: signLabel(label, this.#key), when: options.when }
    })
    const result = await this.#store.write(writes, options.cursor === undefined ? {} : { cursor: options.cursor })
    const outcomes: WriteOutcome[] = probes.map((_, i) => ({ written: false, reason: 'exists', current: present[i] ?? null }))
    fresh.forEach((i, k) => {
      outcomes[i] = result.outcomes[k] as WriteOutcome
    })
    return { outcomes, cursorPersisted: result.cursorPersisted }
  }

  /** Retract our active label (uri, val); resolves with the signed negation and its seq. */
  async negate(request: { readonly uri: string; readonly val: string }): Promise<{ label: SignedLabel; seq: number }> {
    const probe = this.build(request)
    const current = await this.#store.current(probe.uri, probe.src, probe.val)
    const neg = this.build({ uri: request.uri, val: request.val, ...(current?.cid === undefined ? {} : { cid: current.cid }) }, { neg: true, after: current })
    const { outcomes } = await this.#store.write([{ label: signLabel(neg, this.#key), when: 'active' }])
    const outcome = outcomes[0]
    if (outcome === undefined || !outcome.written) {
      throw new AtfedError('LabelNotFound', `no active label ${JSON.stringify(probe.val)} on ${probe.uri}`)
    }
    return { label: outcome.label, seq: outcome.seq }
  }
}
