import { CoverageMap } from './engine/coverage.ts'
import { fuzz } from './engine/fuzzer.ts'
const cov = new CoverageMap()
cov.start()
const { target } = await import('../test/fuzz/planted-target.ts')
cov.setInclude([new URL('../test/fuzz/planted-target.ts', import.meta.url).href])
let takes = 0, novelBatches = 0
const origTake = cov.take.bind(cov); cov.take = () => { takes++; return origTake() }
const origNB = cov.isNovelBatch.bind(cov); cov.isNovelBatch = (f) => { const r = origNB(f); if (r) novelBatches++; return r }
const t0 = performance.now()
const stats = await fuzz(target, cov, { seed: 1, timeMs: 10000, execsMax: 50000, slowInputMs: 1000, sourceUrl: new URL('../', import.meta.url).href, stopOnCrash: true })
console.log(stats, { takes, novelBatches, ms: performance.now() - t0 })
let t1 = performance.now(); for (let i = 0; i < 200; i++) origTake(); console.log('take ms', (performance.now() - t1) / 200)
