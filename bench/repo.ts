/**
 * Repository core (issue 2), atfed (repo-ours.ts: level on disk, fsync per
 * commit) against @atproto/repo (repo-reference.ts: in memory), the same
 * seeded records on both sides (repo-data.ts):
 *
 * 1. build a 10k-record repo in 50 commits of 200 creates → records/s;
 * 2. 1,000 single-create commits into it → commits/s, and p50/p99 per commit;
 * 3. export the repo (now 11k records) as a CAR → MB/s of CAR bytes;
 * 4. import + full verify of that CAR → MB/s (ours into a level store, as a
 *    PDS receiving a migrated account; the reference has no store import);
 * 5. full verify of that CAR held in memory, storing nothing → MB/s.
 * Each side verifies the CAR it exported itself: same records and tree, so
 * the same bytes but for the commit block (another rev and signature).
 *
 * `--quick`: 1k records in 5 commits, 100 single commits.
 */
import { mbPerSecond, percentile, perSecond, timeAsync } from './harness.ts'
import type { BenchSection, SectionContext, Side } from './harness.ts'
import { repoSizes, WriteSource } from './repo-data.ts'
import type { RepoSizes } from './repo-data.ts'
import type { RepoDriver } from './repo-driver.ts'

const STORAGE_NOTE = 'atfed: LevelDB on disk, one fsync per commit; reference: @atproto/repo MemoryBlockstore (no disk)'
const CAR_NOTE = 'MB = 10^6 bytes of CAR; each side exports and verifies its own CAR (same records and tree)'
const IMPORT_NOTE =
  'atfed: importRepoCar into a fresh LevelDB store (stage, re-hash, full check with DID + key, copy reachable blocks, switch head); reference: verifyRepoCar (in memory, stores nothing)'
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
    await benchWrites(driver, sizes, context)
    const car = await benchExport(driver, context)
    await benchVerify(driver, car, { side, expected: sizes.buildRecords + sizes.singleCommits, context })
  } finally {
    await driver.close()
  }
}

async function benchWrites(driver: RepoDriver, sizes: RepoSizes, context: SectionContext): Promise<void> {
  const source = new WriteSource()
  const perCommit = sizes.buildRecords / sizes.buildCommits
  context.progress(`building ${sizes.buildRecords} records in ${sizes.buildCommits} commits`)
  const buildMs = await timeAsync(async () => {
    for (let i = 0; i < sizes.buildCommits; i++) await driver.commit(source.batch(perCommit))
  })
  const buildName = `build ${sizes.buildRecords / 1000}k records, ${sizes.buildCommits} commits`
  context.record({ name: buildName, value: perSecond(sizes.buildRecords, buildMs), unit: 'records/s', higherIsBetter: true, note: STORAGE_NOTE })

  context.progress(`${sizes.singleCommits} single-write commits`)
  const commitMs: number[] = []
  for (let i = 0; i < sizes.singleCommits; i++) {
    const writes = source.batch(1)
    commitMs.push(await timeAsync(() => driver.commit(writes)))
  }
  const totalMs = commitMs.reduce((a, b) => a + b, 0)
  const name = `${sizes.singleCommits} single-write commits`
  context.record({ name, value: perSecond(sizes.singleCommits, totalMs), unit: 'commits/s', higherIsBetter: true, note: STORAGE_NOTE })
  context.record({ name: 'single-write commit p50', value: percentile(commitMs, 50), unit: 'ms', higherIsBetter: false })
  context.record({ name: 'single-write commit p99', value: percentile(commitMs, 99), unit: 'ms', higherIsBetter: false })
}

async function benchExport(driver: RepoDriver, context: SectionContext): Promise<Uint8Array> {
  context.progress('export')
  const chunks: Uint8Array[] = []
  const exportMs = await timeAsync(async () => {
    for await (const chunk of driver.exportCar()) chunks.push(chunk)
  })
  const car = Buffer.concat(chunks)
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
  context.progress(`import + verify (${(car.length / 1e6).toFixed(1)} MB)`)
  let records = 0
  const importMs = await timeAsync(async () => {
    records = await driver.importAndVerify(car)
  })
  check(records, 'import')
  context.record({ name: 'import + verify CAR', value: mbPerSecond(car.length, importMs), unit: 'MB/s', higherIsBetter: true, note: IMPORT_NOTE })
  context.progress('verify in memory')
  const verifyMs = await timeAsync(async () => {
    records = await driver.verifyInMemory(car)
  })
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
