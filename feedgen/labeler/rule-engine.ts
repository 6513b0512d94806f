/**
 * The firehose side of the labeler: a FirehoseConsumer handler that runs the
 * rules (rules.ts) over each event and emits the labels they call for.
 *
 * Per event: the account rules of its DID (any event type), then, for a
 * `#commit`, the text rules over every created or updated
 * `app.bsky.feed.post` whose `text` is a string (cut to
 * LABELER_RULE_TEXT_CHARS_MAX; anything else in the record is ignored, a
 * post without a string text matches nothing and is counted as malformed;
 * frames and records the consumer cannot read are skipped and counted
 * there). All labels of one event go to the
 * emitter in ONE write with `when: 'new-for-cid'` and the consumer's
 * `cursorIfDone`, so the labels and the cursor land together, and a replay
 * after a crash finds the labels already there and writes nothing: at-least-
 * once delivery, exactly-once labels.
 *
 * A text whose matching timed out (text-matcher.ts) gets no text labels and
 * is counted; the event still counts as handled (retrying would time out
 * again). Deleted records keep their labels (the reference does not retract
 * either); an update that no longer matches keeps the old version's label,
 * pinned to the old cid.
 */
import { LABELER_RULE_TEXT_CHARS_MAX } from '../../core/limits.ts'
import type { ConsumerEvent, ConsumerHandler, HandlerContext } from '../consumer/events.ts'
import type { LabelEmitter, LabelRequest } from './emitter.ts'
import type { Rules } from './rules.ts'
import { TextMatcher } from './text-matcher.ts'
import type { MatcherStats } from './text-matcher.ts'

const POST_COLLECTION = 'app.bsky.feed.post'

export type RuleStats = {
  events: number
  posts: number
  textMatches: number
  accountMatches: number
  labelsWritten: number
  /** Labels a rule asked for that were already there (replays, repeated account events). */
  labelsPresent: number
  matchTimeouts: number
  /** Created or updated posts whose `text` is not a string: skipped (no text labels) and counted. */
  malformedPosts: number
  matcher: MatcherStats | null
}

export type RuleEngineOptions = { rules: Rules; emitter: LabelEmitter; matchTimeoutMs?: number }

export class RuleEngine {
  readonly #rules: Rules
  readonly #emitter: LabelEmitter
  readonly #matcher: TextMatcher | null
  readonly #stats = { events: 0, posts: 0, textMatches: 0, accountMatches: 0, labelsWritten: 0, labelsPresent: 0, matchTimeouts: 0, malformedPosts: 0 }

  constructor(options: RuleEngineOptions) {
    this.#rules = options.rules
    this.#emitter = options.emitter
    this.#matcher =
      options.rules.text.length === 0
        ? null
        : new TextMatcher(options.rules.text, options.matchTimeoutMs === undefined ? {} : { timeoutMs: options.matchTimeoutMs })
  }

  /** The consumer handler (bound). */
  readonly handle: ConsumerHandler = async (event, ctx) => this.#handle(event, ctx)

  /** The collections whose ops the rules read (the consumer decodes only these records). */
  get collections(): readonly string[] {
    return [POST_COLLECTION]
  }

  stats(): RuleStats {
    return { ...this.#stats, matcher: this.#matcher?.stats() ?? null }
  }

  async close(): Promise<void> {
    await this.#matcher?.close()
  }

  async #handle(event: ConsumerEvent, ctx: HandlerContext): Promise<void | { cursorPersisted: number }> {
    this.#stats.events++
    const requests: LabelRequest[] = []
    for (const val of this.#rules.accounts.get(event.did) ?? []) {
      this.#stats.accountMatches++
      requests.push({ uri: event.did, val })
    }
    if (event.type === 'commit' && this.#matcher !== null) {
      for (const op of event.ops) {
        if (op.action === 'delete' || op.collection !== POST_COLLECTION) continue
        const text = op.record['text']
        if (typeof text !== 'string') {
          this.#stats.malformedPosts++
          continue
        }
        this.#stats.posts++
        const hits = await this.#matcher.match(text.slice(0, LABELER_RULE_TEXT_CHARS_MAX))
        if (hits === 'timeout') {
          this.#stats.matchTimeouts++
          continue
        }
        for (const i of hits) {
          const rule = this.#rules.text[i]
          if (rule === undefined) continue
          this.#stats.textMatches++
          requests.push({ uri: op.uri, cid: op.cid.toString(), val: rule.val })
        }
      }
    }
    if (requests.length === 0) return
    const result = await this.#emitter.emit(requests, { when: 'new-for-cid', cursor: ctx.cursorIfDone })
    for (const outcome of result.outcomes) {
      if (outcome.written) this.#stats.labelsWritten++
      else this.#stats.labelsPresent++
    }
    return result.cursorPersisted === null ? undefined : { cursorPersisted: result.cursorPersisted }
  }
}
