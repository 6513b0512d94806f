/**
 * The fuzzing loop for one target, in the current thread.
 *
 * 1. Seed phase: every seed runs alone; those that add coverage form the
 *    corpus (the first always does).
 * 2. Main loop: take a corpus entry, mutate it (mutate.ts), run it; keep the
 *    mutant when it reaches a (block, hit-count bucket) never seen before.
 *
 * Taking V8's coverage costs 1-5 ms (V8 walks every function of every script
 * in the isolate), far more than one parse, so mutants run in BATCHES with
 * one take per batch. Only a batch that shows something new is replayed, by
 * bisection (each half again, a take after each, down to single inputs) to
 * find which mutants to keep: a few takes per new input instead of one per
 * mutant. Novelty of a group is judged on summed counts, so a group's
 * feature set is remembered apart (CoverageMap.commitBatch) and never hides
 * what a single input adds. The batch size adapts: halved after a novel batch
 * (early on, when most batches find something), doubled up to BATCH_MAX after
 * a dull one. The order of
 * mutations depends only on the seed, but what is kept depends on coverage,
 * so two runs with one seed and one exec budget take the same path as long
 * as the target is deterministic.
 *
 * A crash (see target.ts) is reported once per signature (error name and the
 * first stack frame in our code) and never enters the corpus. `onInput` sees
 * every input before it runs, so a watchdog in another thread can say which
 * input hung or exhausted memory.
 */
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { AtfedError } from '../../core/errors.ts'
import type { CoverageMap } from './coverage.ts'
import { mutate } from './mutate.ts'
import type { MutationContext } from './mutate.ts'
import { makeRng } from './rng.ts'
import type { Rng } from './rng.ts'
import type { FuzzTarget } from './target.ts'

const BATCH_MAX = 1024
const RECENT_ENTRIES = 8
const YIELD_EVERY_MS = 200
export const MAX_BYTES_DEFAULT = 64 * 1024

export type Crash = { reason: string; signature: string; input: Uint8Array }

export type FuzzOptions = {
  seed: number
  /** Time for mutants, counted after the seeds have run. */
  timeMs: number
  execsMax?: number
  /** One input running longer than this is a crash ('Slow'). */
  slowInputMs: number
  /** Use coverage to keep mutants (false: mutate the seeds blindly, for comparison). */
  feedback?: boolean
  /** Extra corpus entries (e.g. from a previous worker of the same run). */
  corpus?: readonly Uint8Array[]
  /** File URL prefix of our sources, to find the first stack frame in our code. */
  sourceUrl: string
  onInput?: (input: Uint8Array) => void
  onCrash?: (crash: Crash) => void
  onKeep?: (input: Uint8Array) => void
  /** Stop at the first crash (the planted-bug test). */
  stopOnCrash?: boolean
}

export type FuzzStats = {
  execs: number
  elapsedMs: number
  execsPerSecond: number
  corpus: number
  seedBlocks: number
  seedFeatures: number
  blocks: number
  features: number
  crashes: number
  crashSignatures: string[]
}

/** The first stack frame in our sources, as `path:line`. */
function ourFrame(err: Error, sourceUrl: string): string {
  const sourcePath = sourceUrl.replace(/^file:\/\//, '')
  for (const line of (err.stack ?? '').split('\n').slice(1)) {
    const at = line.indexOf(sourceUrl) >= 0 ? line.indexOf(sourceUrl) + sourceUrl.length : line.indexOf(sourcePath) >= 0 ? line.indexOf(sourcePath) + sourcePath.length : -1
    if (at < 0 || line.includes('/fuzz/engine/')) continue
    return line.slice(at).replace(/:\d+\)?$/, '')
  }
  return 'unknown'
}

/** null when `err` is a documented bad-input error of the target. */
export function classifyError(err: unknown, context: { expected: ReadonlySet<string>; sourceUrl: string }): Omit<Crash, 'input'> | null {
  const { expected, sourceUrl } = context
  if (err instanceof AtfedError && expected.has(err.name)) return null
  const e = err instanceof Error ? err : new Error(`non-Error thrown: ${String(err)}`)
  const frame = ourFrame(e, sourceUrl)
  const message = e.message.replace(/\s+/g, ' ').slice(0, 160)
  return { reason: `${e.name}: ${message} (at ${frame})`, signature: `${e.name} at ${frame}` }
}

/** One target's fuzzing state: corpus, coverage, counters. */
class FuzzLoop {
  readonly rng: Rng
  readonly ctx: MutationContext
  readonly expected: ReadonlySet<string>
  readonly corpus: Uint8Array[] = []
  readonly signatures = new Set<string>()
  execs = 0
  crashes = 0

  constructor(
    readonly target: FuzzTarget,
    readonly coverage: CoverageMap,
    readonly options: FuzzOptions,
  ) {
    this.rng = makeRng(options.seed)
    this.expected = new Set(target.expectedErrors)
    this.ctx = {
      rng: this.rng,
      maxBytes: target.maxBytes ?? MAX_BYTES_DEFAULT,
      other: () => this.rng.pick(this.corpus),
      dictionary: target.dictionary ?? [],
      cbor: target.cbor ?? false,
      json: target.json ?? false,
      ...(target.customEdit === undefined ? {} : { custom: target.customEdit }),
    }
  }

  /** Runs one input; false when it crashed. */
  async execute(input: Uint8Array): Promise<boolean> {
    this.options.onInput?.(input)
    this.execs++
    const started = performance.now()
    let crash: Omit<Crash, 'input'> | null = null
    try {
      const pending = this.target.run(input)
      if (pending !== undefined) await pending
    } catch (err) {
      crash = classifyError(err, { expected: this.expected, sourceUrl: this.options.sourceUrl })
    }
    const tookMs = performance.now() - started
    if (crash === null && tookMs > this.options.slowInputMs) {
      crash = { reason: `Slow: one input took ${Math.round(tookMs)} ms (cap ${this.options.slowInputMs} ms)`, signature: 'Slow' }
    }
    if (crash === null) return true
    this.crashes++
    if (!this.signatures.has(crash.signature)) {
      this.signatures.add(crash.signature)
      this.options.onCrash?.({ ...crash, input: input.slice() })
    }
    return false
  }

  /** Half the parents come from the newest entries: the frontier of what coverage has reached. */
  pickParent(): Uint8Array {
    const { rng, corpus } = this
    return rng.oneIn(2) ? corpus[corpus.length - 1 - rng.below(Math.min(RECENT_ENTRIES, corpus.length))]! : rng.pick(corpus)
  }

  keep(input: Uint8Array, features: number[]): void {
    this.coverage.commit(features)
    this.corpus.push(input)
    this.options.onKeep?.(input)
  }

  /** Replays `inputs` (counts were just reset) and keeps the ones that add coverage, halving the group while it shows something new. */
  async bisect(inputs: Uint8Array[]): Promise<void> {
    if (inputs.length === 0) return
    for (const input of inputs) await this.execute(input)
    const features = this.coverage.take()
    if (inputs.length === 1) {
      if (this.coverage.isNovel(features)) this.keep(inputs[0]!, features)
      return
    }
    if (!this.coverage.isNovelBatch(features)) return
    const half = inputs.length >> 1
    await this.bisect(inputs.slice(0, half))
    await this.bisect(inputs.slice(half))
    this.coverage.commitBatch(features)
  }

  /** Every seed alone; those adding coverage (all of them without feedback) start the corpus. */
  async runSeeds(feedback: boolean): Promise<void> {
    const seeds = [...(await this.target.seeds()), ...(this.options.corpus ?? [])]
    this.coverage.reset()
    for (const seed of seeds) {
      const ok = await this.execute(seed)
      const features = this.coverage.take()
      if (ok && (this.corpus.length === 0 || this.coverage.isNovel(features) || !feedback)) this.keep(seed, features)
    }
    if (this.corpus.length === 0) this.corpus.push(new Uint8Array(0))
  }

  /** One batch of mutants; returns the next batch size. */
  async runBatch(batchSize: number, feedback: boolean): Promise<number> {
    const batch: Uint8Array[] = []
    for (let i = 0; i < batchSize; i++) {
      const mutant = mutate(this.pickParent(), this.ctx)
      if (await this.execute(mutant)) batch.push(mutant)
    }
    const features = feedback ? this.coverage.take() : []
    if (batchSize === 1 && batch.length === 1 && this.coverage.isNovel(features)) {
      this.keep(batch[0]!, features)
      return 1
    }
    if (!this.coverage.isNovelBatch(features)) return Math.min(BATCH_MAX, batchSize * 2)
    const half = batch.length >> 1
    await this.bisect(batch.slice(0, half))
    await this.bisect(batch.slice(half))
    this.coverage.commitBatch(features)
    return Math.max(1, batchSize >> 1)
  }
}

export async function fuzz(target: FuzzTarget, coverage: CoverageMap, options: FuzzOptions): Promise<FuzzStats> {
  const loop = new FuzzLoop(target, coverage, options)
  const feedback = options.feedback ?? true
  const started = performance.now()
  await loop.runSeeds(feedback)
  const seedBlocks = coverage.blocks
  const seedFeatures = coverage.features
  const deadline = performance.now() + options.timeMs // the budget is for mutants: the seeds always run whole
  const execsMax = options.execsMax ?? Number.POSITIVE_INFINITY
  let batchSize = 1
  let lastYield = performance.now()
  while (loop.execs < execsMax && performance.now() < deadline && !(options.stopOnCrash === true && loop.crashes > 0)) {
    batchSize = await loop.runBatch(batchSize, feedback)
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await yieldToEventLoop()
      lastYield = performance.now()
    }
  }
  const elapsedMs = performance.now() - started
  return {
    execs: loop.execs,
    elapsedMs,
    execsPerSecond: Math.round((loop.execs / elapsedMs) * 1000),
    corpus: loop.corpus.length,
    seedBlocks,
    seedFeatures,
    blocks: coverage.blocks,
    features: coverage.features,
    crashes: loop.crashes,
    crashSignatures: [...loop.signatures],
  }
}
