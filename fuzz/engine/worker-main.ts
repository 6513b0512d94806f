/**
 * Body of a fuzzing worker: start V8 coverage BEFORE the target module loads
 * (so every function of the code under test gets block counters), import
 * the target, run the loop, report to the parent.
 *
 * The parent watches for hangs and memory exhaustion, which this thread
 * cannot report itself: before each run the input is copied into a shared
 * buffer (`[exec counter, length, bytes…]`); if the counter stops moving the
 * parent terminates this thread and reads the input from there.
 *
 * Messages: {type: 'keep', input} for each corpus addition, {type: 'crash',
 * reason, signature, input}, and finally {type: 'done', stats}.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CoverageMap } from './coverage.ts'
import { fuzz } from './fuzzer.ts'
import type { FuzzOptions } from './fuzzer.ts'
import type { FuzzTarget } from './target.ts'

export type WorkerData = {
  targetUrl: string
  rootUrl: string
  shared: SharedArrayBuffer
  options: Omit<FuzzOptions, 'onInput' | 'onCrash' | 'onKeep' | 'sourceUrl'>
}

const data = workerData as WorkerData
const port = parentPort!
const header = new Int32Array(data.shared, 0, 2)
const body = new Uint8Array(data.shared, 8)

const coverage = new CoverageMap()
coverage.start()
const { target } = (await import(data.targetUrl)) as { target: FuzzTarget }
coverage.setInclude(target.coverageDirs.map((dir) => new URL(dir, data.rootUrl).href))

const stats = await fuzz(target, coverage, {
  ...data.options,
  sourceUrl: data.rootUrl,
  onInput: (input) => {
    const length = Math.min(input.length, body.length)
    body.set(input.subarray(0, length))
    Atomics.store(header, 1, length)
    Atomics.add(header, 0, 1)
  },
  onCrash: (crash) => port.postMessage({ type: 'crash', ...crash }),
  onKeep: (input) => port.postMessage({ type: 'keep', input }),
})
coverage.stop()
port.postMessage({ type: 'done', stats })
