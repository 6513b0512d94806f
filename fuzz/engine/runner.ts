/**
 * Runs one target in a worker thread for a time budget and watches it.
 *
 * The worker does the fuzzing (worker-main.ts); this side only watches the
 * shared exec counter. No progress for `hangMs` → the worker is terminated
 * and the input in the shared buffer is a 'Hang' crash; a worker that dies
 * out of memory (its JS heap is capped by `heapMbMax`) or makes the process
 * RSS pass `rssMbMax` (buffers outside the heap) gives a 'Memory' crash the
 * same way, blaming the input running at that moment. Either way a new worker continues with the corpus found so
 * far, a different PRNG seed and the time left.
 */
import { Worker } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import type { Crash, FuzzStats } from './fuzzer.ts'
import type { WorkerData } from './worker-main.ts'

const WORKER_URL = new URL('./worker.js', import.meta.url)
const ROOT_URL = new URL('../../', import.meta.url).href
const SHARED_INPUT_BYTES = 1 << 20
const WATCH_INTERVAL_MS = 100
const RESTARTS_MAX = 20

export type RunTargetOptions = {
  seed: number
  timeMs: number
  execsMax?: number
  slowInputMs?: number
  hangMs?: number
  heapMbMax?: number
  rssMbMax?: number
  feedback?: boolean
  stopOnCrash?: boolean
}

export type TargetReport = Omit<FuzzStats, 'crashSignatures'> & { crashList: Crash[]; workers: number }

type WorkerOutcome = { stats: FuzzStats | null; crash: Crash | null; execs: number }

type WorkerRun = { options: RunTargetOptions; corpus: Uint8Array[]; keep: (input: Uint8Array) => void; report: (c: Crash) => void }

function runWorker(targetUrl: string, run: WorkerRun): Promise<WorkerOutcome> {
  const { options, corpus } = run
  const shared = new SharedArrayBuffer(8 + SHARED_INPUT_BYTES)
  const header = new Int32Array(shared, 0, 2)
  const lastInput = (): Uint8Array => new Uint8Array(shared, 8, Atomics.load(header, 1)).slice()
  const data: WorkerData = {
    targetUrl,
    rootUrl: ROOT_URL,
    shared,
    options: {
      seed: options.seed,
      timeMs: options.timeMs,
      ...(options.execsMax === undefined ? {} : { execsMax: options.execsMax }),
      slowInputMs: options.slowInputMs ?? 1_000,
      feedback: options.feedback ?? true,
      stopOnCrash: options.stopOnCrash ?? false,
      corpus,
    },
  }
  const worker = new Worker(WORKER_URL, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: options.heapMbMax ?? 1024 } })
  return new Promise((resolve) => {
    let stats: FuzzStats | null = null
    let crash: Crash | null = null
    let lastCount = -1
    let lastMove = performance.now()
    const hangMs = options.hangMs ?? 10_000
    const watch = setInterval(() => {
      const rssMb = process.memoryUsage.rss() / 2 ** 20
      if (rssMb > (options.rssMbMax ?? 3072) && crash === null) {
        crash = { reason: `Memory: process RSS ${Math.round(rssMb)} MB while one input ran`, signature: 'Memory', input: lastInput() }
        void worker.terminate()
        return
      }
      const count = Atomics.load(header, 0)
      if (count !== lastCount || count === 0) {
        lastCount = count
        lastMove = performance.now()
      } else if (performance.now() - lastMove > hangMs && crash === null) {
        crash = { reason: `Hang: no progress for ${hangMs} ms`, signature: 'Hang', input: lastInput() }
        void worker.terminate()
      }
    }, WATCH_INTERVAL_MS)
    worker.on('message', (m: { type: string; input?: Uint8Array; stats?: FuzzStats; reason?: string; signature?: string }) => {
      if (m.type === 'keep') run.keep(m.input!)
      else if (m.type === 'crash') run.report({ reason: m.reason!, signature: m.signature!, input: m.input! })
      else if (m.type === 'done') stats = m.stats!
    })
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        crash = { reason: `Memory: the worker ran out of its ${options.heapMbMax ?? 1024} MB heap`, signature: 'Memory', input: lastInput() }
      } else {
        crash = { reason: `WorkerError: ${err.name}: ${err.message}`, signature: `WorkerError ${err.name}`, input: lastInput() }
      }
    })
    worker.on('exit', () => {
      clearInterval(watch)
      resolve({ stats, crash, execs: Atomics.load(header, 0) })
    })
  })
}

/** Fuzz the target module at `targetUrl` (it exports `target: FuzzTarget`). */
export async function runTarget(targetUrl: string, options: RunTargetOptions): Promise<TargetReport> {
  const started = performance.now()
  const crashList: Crash[] = []
  const signatures = new Set<string>()
  const report = (crash: Crash): void => {
    if (signatures.has(crash.signature)) return
    signatures.add(crash.signature)
    crashList.push(crash)
  }
  const corpus: Uint8Array[] = []
  const total: TargetReport = { execs: 0, elapsedMs: 0, execsPerSecond: 0, corpus: 0, seedBlocks: 0, seedFeatures: 0, blocks: 0, features: 0, crashes: 0, crashList, workers: 0 }
  for (let restart = 0; restart <= RESTARTS_MAX; restart++) {
    const timeLeftMs = options.timeMs - (performance.now() - started)
    if (restart > 0 && timeLeftMs < 1_000) break
    const execsLeft = options.execsMax === undefined ? undefined : options.execsMax - total.execs
    total.workers++
    const workerOptions = { ...options, seed: options.seed + restart, timeMs: timeLeftMs, ...(execsLeft === undefined ? {} : { execsMax: execsLeft }) }
    const { stats, crash, execs } = await runWorker(targetUrl, { options: workerOptions, corpus: corpus.slice(), keep: (input) => corpus.push(input), report })
    total.execs += execs
    if (stats !== null) {
      total.crashes += stats.crashes
      if (restart === 0) {
        total.seedBlocks = stats.seedBlocks
        total.seedFeatures = stats.seedFeatures
      }
      total.blocks = Math.max(total.blocks, stats.blocks)
      total.features = Math.max(total.features, stats.features)
    }
    if (crash === null) break
    total.crashes++
    report(crash)
    if (options.stopOnCrash === true) break
  }
  total.corpus = corpus.length
  total.elapsedMs = performance.now() - started
  total.execsPerSecond = Math.round((total.execs / total.elapsedMs) * 1000)
  return total
}
