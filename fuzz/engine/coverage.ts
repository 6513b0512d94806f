/**
 * Coverage feedback from V8's own block coverage, read through `node:inspector`
 * in the fuzzing thread itself (no instrumentation pass, no native addon).
 *
 * `Profiler.startPreciseCoverage({callCount: true, detailed: true})` makes V8
 * count every basic block; `Profiler.takePreciseCoverage` returns the counts
 * since the previous take and resets them, so one take after an input is that
 * input's coverage. A same-thread inspector session answers synchronously.
 *
 * A feature is (block, hit-count bucket) as in AFL: buckets 1, 2, 3, 4-7,
 * 8-15, 16-31, 32-127, 128+. An input is interesting when it hits a feature
 * never seen before.
 *
 * Tricky bit: V8 leaves out a nested range whose count equals its parent's, so
 * "block B ran" often shows up only as the ABSENCE of B's range (which was
 * reported with count 0 by an earlier input). So we remember every range ever
 * reported per function and give each the count of the innermost range
 * reported now that contains it (V8 sorts ranges by start, parents first, so
 * scanning backwards finds the innermost). Blocks V8 never reports separately
 * always run with their parent, so they add nothing.
 *
 * Only scripts whose URL starts with one of `include` count (our own source
 * directories), which keeps maps small and ignores node internals. Functions
 * compiled before `start()` may lack block counters: start before importing
 * the code under test.
 */
import { Session } from 'node:inspector'
import type { Profiler } from 'node:inspector'

type FunctionBlocks = { keys: Map<number, number>; starts: number[]; ends: number[]; ids: number[] }

const RANGE_KEY_SCALE = 2 ** 22 // offsets stay far below 4 MiB per script
const BUCKETS = 8

export function hitBucket(count: number): number {
  if (count <= 3) return count - 1
  if (count < 8) return 3
  if (count < 16) return 4
  if (count < 32) return 5
  if (count < 128) return 6
  return 7
}

export class CoverageMap {
  readonly #session = new Session()
  #include: readonly string[] = []
  readonly #scriptIncluded = new Map<string, boolean>()
  readonly #functions = new Map<string, FunctionBlocks>()
  #blockCount = 0
  #seen = new Uint8Array(1 << 16)
  #blockSeen = new Uint8Array(1 << 13)
  /** Features seen only as a batch's sums (see fuzzer.ts); kept apart so they never hide an input's own novelty. */
  #batchSeen = new Uint8Array(1 << 16)
  /** Distinct (block, bucket) features seen so far. */
  features = 0
  /** Distinct blocks seen with a non-zero count so far. */
  blocks = 0

  /** Only scripts whose URL starts with one of `prefixes` count from now on. */
  setInclude(prefixes: readonly string[]): void {
    this.#include = prefixes
    this.#scriptIncluded.clear()
  }

  start(): void {
    this.#session.connect()
    this.#post('Profiler.enable')
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  }

  stop(): void {
    this.#post('Profiler.stopPreciseCoverage')
    this.#session.disconnect()
  }

  #post(method: string, params?: object): unknown {
    let result: unknown
    let error: Error | null = null
    this.#session.post(method, params ?? {}, (err: Error | null, res: unknown) => {
      error = err
      result = res
    })
    if (error !== null) throw error
    return result
  }

  /** Zeroes the counts (what ran so far, e.g. loading and seed building, is dropped). */
  reset(): void {
    this.#post('Profiler.takePreciseCoverage')
  }

  /** Counts since the last take (which resets them), as feature numbers. */
  take(): number[] {
    const { result } = this.#post('Profiler.takePreciseCoverage') as Profiler.TakePreciseCoverageReturnType
    const features: number[] = []
    for (const script of result) {
      if (!this.#included(script)) continue
      for (const fn of script.functions) {
        if (fn.ranges[0] === undefined || fn.ranges[0].count === 0) continue
        this.#functionFeatures(`${script.scriptId}:${fn.ranges[0].startOffset}`, fn.ranges, features)
      }
    }
    return features
  }

  #included(script: Profiler.ScriptCoverage): boolean {
    let included = this.#scriptIncluded.get(script.scriptId)
    if (included === undefined) {
      included = this.#include.some((prefix) => script.url.startsWith(prefix))
      this.#scriptIncluded.set(script.scriptId, included)
    }
    return included
  }

  #functionFeatures(key: string, ranges: readonly Profiler.CoverageRange[], out: number[]): void {
    let blocks = this.#functions.get(key)
    if (blocks === undefined) {
      blocks = { keys: new Map(), starts: [], ends: [], ids: [] }
      this.#functions.set(key, blocks)
    }
    for (const range of ranges) {
      const rangeKey = range.startOffset * RANGE_KEY_SCALE + range.endOffset
      if (blocks.keys.has(rangeKey)) continue
      blocks.keys.set(rangeKey, this.#blockCount)
      blocks.starts.push(range.startOffset)
      blocks.ends.push(range.endOffset)
      blocks.ids.push(this.#blockCount++)
    }
    for (let i = 0; i < blocks.ids.length; i++) {
      const start = blocks.starts[i]!
      const end = blocks.ends[i]!
      let count = 0
      for (let j = ranges.length - 1; j >= 0; j--) {
        const r = ranges[j]!
        if (r.startOffset <= start && r.endOffset >= end) {
          count = r.count
          break
        }
      }
      if (count > 0) out.push(blocks.ids[i]! * BUCKETS + hitBucket(count))
    }
  }

  /** True when `features` has one never committed. */
  isNovel(features: readonly number[]): boolean {
    const seen = this.#seen
    for (const f of features) if (f >= seen.length || seen[f] === 0) return true
    return false
  }

  /** True when a batch's summed features hold one seen neither alone nor in an earlier batch. */
  isNovelBatch(features: readonly number[]): boolean {
    const seen = this.#seen
    const batchSeen = this.#batchSeen
    for (const f of features) if (f >= seen.length || (seen[f] === 0 && batchSeen[f] === 0)) return true
    return false
  }

  /** Records a batch's summed features, so the same sums do not trigger another replay. */
  commitBatch(features: readonly number[]): void {
    for (const f of features) {
      this.#grow(f)
      this.#batchSeen[f] = 1
    }
  }

  /** Records `features` as seen; returns how many were new. */
  commit(features: readonly number[]): number {
    let added = 0
    for (const f of features) {
      this.#grow(f)
      if (this.#seen[f] !== 0) continue
      this.#seen[f] = 1
      added++
      const block = Math.floor(f / BUCKETS)
      if (this.#blockSeen[block] === 0) {
        this.#blockSeen[block] = 1
        this.blocks++
      }
    }
    this.features += added
    return added
  }

  #grow(feature: number): void {
    while (feature >= this.#seen.length) {
      const seen = new Uint8Array(this.#seen.length * 2)
      seen.set(this.#seen)
      this.#seen = seen
      const batchSeen = new Uint8Array(this.#seen.length)
      batchSeen.set(this.#batchSeen)
      this.#batchSeen = batchSeen
      const blockSeen = new Uint8Array(this.#blockSeen.length * 2)
      blockSeen.set(this.#blockSeen)
      this.#blockSeen = blockSeen
    }
  }
}
