import { runTarget } from './engine/runner.ts'
for (const seed of [1, 2, 3, 4, 5, 6]) {
  for (const feedback of [true, false]) {
    if (!feedback && seed > 1) continue
    const r = await runTarget(new URL('../test/fuzz/planted-target.ts', import.meta.url).href, { seed, timeMs: 30000, execsMax: 150000, feedback, stopOnCrash: true })
    console.log(seed, feedback, r.execs, r.crashList.length, Math.round(r.elapsedMs))
  }
}
