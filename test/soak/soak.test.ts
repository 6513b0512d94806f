/**
 * The soak (scripts/soak.ts) at CI size: ~10 s at a low rate with 1 s
 * samples, four real child processes. Checks the artefacts, not the
 * verdicts (10 s says nothing about leaks): the CSV has the header and a
 * row per sample with positive throughput, firehose and per-process RSS,
 * fd, JS heap, external (these two from the probe each child preloads) and
 * LevelDB table-index values; the PNG is a PNG (signature, IHDR size, CRCs, IDAT inflates to
 * exactly the rows); every process was sampled every time; nothing crashed;
 * the whole run stays within its wall-clock budget. The watchdog kills the
 * children if the file hangs; runSoak kills them in its own finally.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32, inflateSync } from 'node:zlib'
import { SOAK_PROCESSES } from '../../scripts/soak-network.ts'
import { csvHeader, formatSummary, runSoak } from '../../scripts/soak.ts'
import { startWatchdog } from '../helpers/watchdog.ts'

const WALL_MS_MAX = 25_000
startWatchdog(40_000, 'test/soak/soak.test.ts')

function pngChunks(png: Buffer): { type: string; data: Buffer }[] {
  const chunks: { type: string; data: Buffer }[] = []
  for (let at = 8; at < png.length;) {
    const length = png.readUInt32BE(at)
    const type = png.toString('latin1', at + 4, at + 8)
    const data = png.subarray(at + 8, at + 8 + length)
    assert.equal(png.readUInt32BE(at + 8 + length), crc32(png.subarray(at + 4, at + 8 + length)), `${type} CRC`)
    chunks.push({ type, data })
    at += 12 + length
  }
  return chunks
}

test('a 10 s soak writes a CSV row per sample and a valid PNG, and nothing crashes', { timeout: 35_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'atfed-soak-test-'))
  const started = Date.now()
  try {
    const report = await runSoak({ seconds: 10, ratePerS: 40, clients: 4, intervalS: 1, outDir: out })
    const wallMs = Date.now() - started
    assert.ok(wallMs <= WALL_MS_MAX, `soak test took ${wallMs} ms`)
    assert.deepEqual(report.crashed, [])
    assert.ok(report.writes > 100, `${report.writes} writes`)
    assert.equal(report.errors, 0)

    const [header, ...rows] = readFileSync(report.csvPath, 'utf8').trimEnd().split('\n')
    assert.equal(header, csvHeader())
    const columns = header!.split(',')
    assert.deepEqual(columns.slice(0, 6), ['t_s', 'writes_per_s', 'write_errors', 'write_p99_ms', 'firehose_events_per_s', 'feedgen_lag_ms'])
    for (const p of SOAK_PROCESSES) {
      for (const c of ['rss_mb', 'rss_anon_mb', 'rss_file_mb', 'fds', 'heap_mb', 'heap_total_mb', 'external_mb', 'level_index_mb', 'cpu_pct']) assert.ok(columns.includes(`${p}_${c}`), `${p}_${c}`)
    }
    assert.ok(columns.includes('load_cpu_pct'))
    assert.ok(rows.length >= 8, `${rows.length} rows`)
    const cells = rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [columns[i]!, v])))
    for (const row of cells) {
      assert.equal(Object.keys(row).length, columns.length)
      for (const p of SOAK_PROCESSES) {
        assert.ok(Number(row[`${p}_rss_mb`]) > 10, `${p} RSS sampled: ${JSON.stringify(row)}`)
        assert.ok(Number(row[`${p}_fds`]) > 3, `${p} fds sampled: ${JSON.stringify(row)}`)
        const [rss, anon, file] = [Number(row[`${p}_rss_mb`]), Number(row[`${p}_rss_anon_mb`]), Number(row[`${p}_rss_file_mb`])]
        assert.ok(anon > 1 && file > 1 && Math.abs(anon + file - rss) < 2, `${p} RSS split into anon + file (shmem aside): ${JSON.stringify(row)}`)
        assert.ok(Number(row[`${p}_cpu_pct`]) >= 0 && Number(row[`${p}_cpu_pct`]) <= 100 * 64, `${p} CPU: ${JSON.stringify(row)}`)
        const [heap, external] = [Number(row[`${p}_heap_mb`]), Number(row[`${p}_external_mb`])]
        assert.ok(heap > 1 && heap <= Number(row[`${p}_heap_total_mb`]) && Number(row[`${p}_heap_total_mb`]) < Number(row[`${p}_rss_mb`]),
          `${p} JS heap from its probe: ${JSON.stringify(row)}`)
        assert.ok(external > 0 && external < Number(row[`${p}_rss_mb`]), `${p} external from its probe: ${JSON.stringify(row)}`)
        assert.ok(row[`${p}_level_index_mb`] !== '' && Number(row[`${p}_level_index_mb`]) >= 0, `${p} table indexes read: ${JSON.stringify(row)}`)
      }
    }
    const full = cells.slice(1, -1) // the last window may be a fraction of a second
    assert.ok(full.every((r) => Number(r.writes_per_s) > 0 && Number(r.write_p99_ms) > 0), 'writes every second')
    assert.ok(full.some((r) => Number(r.firehose_events_per_s) > 0), 'the relay firehose carried events')
    assert.ok(cells.some((r) => r.feedgen_lag_ms !== '' && Number(r.feedgen_lag_ms) >= 0), 'the feed generator indexed posts')
    assert.ok(report.rows.every((r) => SOAK_PROCESSES.every((p) => r.procs[p] !== null)), 'every process sampled every time')
    assert.ok(Number(full.at(-1)!.pds_cpu_pct) > 0 && Number(full.at(-1)!.load_cpu_pct) > 0, 'the PDS and the load used CPU')
    assert.match(formatSummary(report, 40), /pds +RSS .*\/min\) MB (FLAT|GROWING) \(anon .*\/min\) (FLAT|GROWING), file .*\); fds .*JS heap used .* of .*external .*; anon less LevelDB table indexes .*\/min\) MB (FLAT|GROWING) \(indexes .*\/min\) MB\)/)
    assert.match(formatSummary(report, 40), /\nmemory: own memory \(anonymous RSS\) (FLAT in every process|GROWING in [a-z, ]+); fds (FLAT in every process|GROWING in [a-z, ]+)/)
    assert.ok(report.cpuMsPerWrite['pds']! > 0 && report.cpuMsPerWrite['load']! > 0, JSON.stringify(report.cpuMsPerWrite))
    assert.match(formatSummary(report, 40), /CPU per acknowledged write: plc [\d.]+ ms, pds [\d.]+ ms, relay [\d.]+ ms, feedgen [\d.]+ ms, load [\d.]+ ms; total/)
    // A main thread is one thread of its process: never more CPU than the whole process.
    for (const p of ['pds', 'relay', 'feedgen']) {
      assert.ok(report.mainThreadMsPerWrite[p]! > 0 && report.mainThreadMsPerWrite[p]! <= report.cpuMsPerWrite[p]!, JSON.stringify({ main: report.mainThreadMsPerWrite, all: report.cpuMsPerWrite }))
    }
    assert.match(formatSummary(report, 40), /main thread per acknowledged write: plc [\d.]+ ms, pds [\d.]+ ms, relay [\d.]+ ms, feedgen [\d.]+ ms; the \w+'s one thread carries at most ~\d+ writes\/s/)

    const png = readFileSync(report.pngPath)
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const chunks = pngChunks(png)
    assert.deepEqual(chunks.map((c) => c.type), ['IHDR', 'IDAT', 'IEND'])
    const ihdr = chunks[0]!.data
    const [width, height] = [ihdr.readUInt32BE(0), ihdr.readUInt32BE(4)]
    assert.deepEqual([width, height, ihdr[8], ihdr[9]], [900, 1200, 8, 2])
    const raw = inflateSync(chunks[1]!.data)
    assert.equal(raw.length, height * (1 + width * 3))
    assert.ok(raw.some((b, i) => i % (1 + width * 3) !== 0 && b !== 255), 'something is drawn')
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
})
