/**
 * Repository core (issue 2), atfed (repo-ours.ts: level on disk, fsync per
 * commit) against @atproto/repo (repo-reference.ts: in memory), the same
 * seeded records on both sides (repo-data.ts):
 *
 * 1. build a 10k-record repo in 50 commits of 200 creates → records/s;
 * 2. 1,000 single-create commits into it → commits/s, and p50/p99 per commit;
 * 2b. the same 1,000 commits through the pure core alone (ours: `applyWrites`
 *    on a MemoryBlockMap, no store, no fsync): the like-for-like row, since
 *    the reference runs in memory. The reference's own single-commit run is
 *    already that, so its numbers from step 2 stand for both rows;
 * 3. export the repo (now 11k records) as a CAR → MB/s of CAR bytes;
 * 4. import + full verify of that CAR → MB/s (ours into a fresh level store,
 *    as a PDS receiving a migrated account; the reference has no store import);
 * 5. full verify of that CAR held in memory, storing nothing → MB/s.
 * Jobs 3-5 run JOB_RUNS times each and the fastest run counts, on both
 * sides: the machine is shared, and one disturbed run would decide the row.
 * Each side verifies the CAR it exported itself: same records and tree, so
 * the same bytes but for the commit block (another rev and signature).
 *
 * `--quick`: 1k records in 5 commits, 100 single commits.
 */
import { mbPerSecond, percentile, perSecond, timeAsync } from './harness.ts'
import type { BenchSection, SectionContext, Side } from './harness.ts'
import { repoSizes, WriteSource } from './repo-data.ts'
import type { RepoSizes } from './repo-data.ts'
import type { RepoCommits, RepoDriver } from './repo-driver.ts'

/** Timed runs of each export, import and verify job; the best one counts. */
const JOB_RUNS = 3
const runsOf = (context: SectionContext) => (context.quick ? 1 : JOB_RUNS)

const STORAGE_NOTE = 'atfed: LevelDB on disk, one fsync per commit; reference: @atproto/repo MemoryBlockstore (no disk)'
const MEMORY_NOTE =
  'both in memory: atfed applyWrites on a MemoryBlockMap (a second repo built with the same records, untimed); reference: its single-commit run above (MemoryBlockstore)'
const CAR_NOTE = 'MB = 10^6 bytes of CAR, best of 3 runs (1 with --quick; this row and the two below); each side exports and verifies its own CAR (same records and tree)'
const IMPORT_NOTE =
  "atfed: importRepoCar into a fresh LevelDB store per run (CAR under 16 MiB: re-hash and full check with DID + key in memory, write the repo's blocks, switch the head with an fsync); reference: verifyRepoCar (in memory, stores nothing)"
const VERIFY_NOTE = 'atfed: verifyRepoCarBytes; reference: verifyRepoCar; both re-hash every block, walk the whole tree, require every record, check DID + signature'

/** Loaded on demand, so one side's process never loads the other side's libraries. */
async function openDriver(side: Side): Promise<RepoDriver> {
  if (side === 'ours') return (await import('./repo-ours.ts')).openOursDriver()
  return (await import('./repo-reference.ts')).openReferenceDriver()
}

async function runSide(side: Side, context: SectionContext): Promise<void> {
  const sizes = repoSizes(context.quick)
  const driver = await openDriver(side)
  try {
    const singleCommitMs = await benchWrites(driver, sizes, context)
    await benchMemoryCommits(driver, { sizes, context, singleCommitMs })
    const car = await benchExport(driver, context)
    await benchVerify(driver, car, { side, expected: sizes.buildRecords + sizes.singleCommits, context })
  } finally {
    await driver.close()
  }
}

/** Returns the time of each single-write commit, in ms. */
async function benchWrites(driver: RepoDriver, sizes: RepoSizes, context: SectionContext): Promise<number[]> {
  const source = new WriteSource()
  const perCommit = sizes.buildRecords / sizes.buildCommits
  context.progress(`building ${sizes.buildRecords} records in ${sizes.buildCommits} commits`)
  const buildMs = await timeAsync(async () => {
    for (let i = 0; i < sizes.buildCommits; i++) await driver.commit(source.batch(perCommit))
  })
  const buildName = `build ${sizes.buildRecords / 1000}k records, ${sizes.buildCommits} commits`
  context.record({ name: buildName, value: perSecond(sizes.buildRecords, buildMs), unit: 'records/s', higherIsBetter: true, note: STORAGE_NOTE })

  context.progress(`${sizes.singleCommits} single-write commits`)
  const commitMs = await timeSingleCommits(driver, { source, count: sizes.singleCommits })
  recordSingleCommits(commitMs, { context, label: '', note: STORAGE_NOTE })
  return commitMs
}

async function timeSingleCommits(repo: RepoCommits, { source, count }: { source: WriteSource; count: number }): Promise<number[]> {
  const commitMs: number[] = []
  for (let i = 0; i < count; i++) {
    const writes = source.batch(1)
    commitMs.push(await timeAsync(() => repo.commit(writes)))
  }
  return commitMs
}

function recordSingleCommits(commitMs: number[], { context, label, note }: { context: SectionContext; label: string; note: string }): void {
  const totalMs = commitMs.reduce((a, b) => a + b, 0)
  const name = `${commitMs.length} single-write commits${label}`
  context.record({ name, value: perSecond(commitMs.length, totalMs), unit: 'commits/s', higherIsBetter: true, note })
  context.record({ name: `single-write commit${label} p50`, value: percentile(commitMs, 50), unit: 'ms', higherIsBetter: false })
  context.record({ name: `single-write commit${label} p99`, value: percentile(commitMs, 99), unit: 'ms', higherIsBetter: false })
}

/** Row 2b: ours through the pure core in memory; the reference's step-2 numbers stand for it. */
async function benchMemoryCommits(
  driver: RepoDriver,
  { sizes, context, singleCommitMs }: { sizes: RepoSizes; context: SectionContext; singleCommitMs: number[] },
): Promise<void> {
  const label = ', core in memory'
  const repo = driver.openMemoryRepo()
  if (repo === null) return recordSingleCommits(singleCommitMs, { context, label, note: MEMORY_NOTE })
  context.progress(`${sizes.singleCommits} single-write commits in memory (after an untimed ${sizes.buildRecords / 1000}k build)`)
  const source = new WriteSource()
  const perCommit = sizes.buildRecords / sizes.buildCommits
  for (let i = 0; i < sizes.buildCommits; i++) await repo.commit(source.batch(perCommit))
  const commitMs = await timeSingleCommits(repo, { source, count: sizes.singleCommits })
  recordSingleCommits(commitMs, { context, label, note: MEMORY_NOTE })
}

/**
 * The shortest of RUNS timings of `job` (the machine is shared: the best run
 * is the one least disturbed), with the last run's result. Both sides run
 * the same number of times; each import run goes into a fresh store.
 */
async function bestOf<T>(runs: number, job: () => Promise<T>): Promise<{ ms: number; result: T }> {
  let best = Infinity
  let result: T | undefined
  for (let i = 0; i < runs; i++) {
    const ms = await timeAsync(async () => {
      result = await job()
    })
    best = Math.min(best, ms)
  }
  return { ms: best, result: result as T }
}

async function benchExport(driver: RepoDriver, context: SectionContext): Promise<Uint8Array> {
  context.progress(`export (best of ${runsOf(context)})`)
  const { ms: exportMs, result: car } = await bestOf(runsOf(context), async () => {
    const chunks: Uint8Array[] = []
    for await (const chunk of driver.exportCar()) chunks.push(chunk)
    return Buffer.concat(chunks)
  })
  context.record({ name: 'export repo to CAR', value: mbPerSecond(car.length, exportMs), unit: 'MB/s', higherIsBetter: true, note: CAR_NOTE })
  return car
}

async function benchVerify(
  driver: RepoDriver,
  car: Uint8Array,
  { side, expected, context }: { side: Side; expected: number; context: SectionContext },
): Promise<void> {
  const check = (records: number, what: string) => {
    if (records !== expected) throw new Error(`${side} ${what} found ${records} records, expected ${expected}`)
  }
  context.progress(`import + verify (${(car.length / 1e6).toFixed(1)} MB, best of ${runsOf(context)})`)
  const imported = await bestOf(runsOf(context), () => driver.importAndVerify(car))
  const importMs = imported.ms
  let records = imported.result
  check(records, 'import')
  context.record({ name: 'import + verify CAR', value: mbPerSecond(car.length, importMs), unit: 'MB/s', higherIsBetter: true, note: IMPORT_NOTE })
  context.progress(`verify in memory (best of ${runsOf(context)})`)
  const verified = await bestOf(runsOf(context), () => driver.verifyInMemory(car))
  const verifyMs = verified.ms
  records = verified.result
  check(records, 'in-memory verify')
  context.record({ name: 'verify CAR in memory', value: mbPerSecond(car.length, verifyMs), unit: 'MB/s', higherIsBetter: true, note: VERIFY_NOTE })
  context.info(`${side === 'ours' ? 'atfed' : 'reference'} CAR: ${(car.length / 1e6).toFixed(2)} MB, ${records} records`)
}

export const section: BenchSection = {
  name: 'repo',
  title: 'Repository core',
  sides: ['ours', 'reference'],
  run: runSide,
}
