/**
 * Every service's store opens LevelDB with LEVEL_STORE_OPTIONS (why: see
 * core/level-options.ts). Observed, not trusted: 8 MB written through a
 * store's own database stay in its memtable (no table file on disk after a
 * clean close), where LevelDB's default 4 MB memtable flushes one; the
 * first test shows that difference on a bare database. The last reads the
 * tables' footers: their in-memory indexes have one entry per
 * LEVEL_BLOCK_BYTES of data (at LevelDB's default 4 KB it fails).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Level } from 'level'
import { LEVEL_STORE_OPTIONS } from '../../core/level-options.ts'
import { LEVEL_BLOCK_BYTES, LEVEL_WRITE_BUFFER_BYTES } from '../../core/limits.ts'
import { FeedStore } from '../../feedgen/indexer/store.ts'
import { LabelStore } from '../../feedgen/labeler/store.ts'
import { openRelayDb } from '../../relay/relay-db.ts'
import { levelTableIndexSize } from '../../scripts/level-table-index.ts'
import { startPlcForPds, startTestPds } from '../helpers/pds.ts'

const WRITTEN_BYTES = 8 * 1024 * 1024
const CHUNK_BYTES = 256 * 1024

type AnyLevel = Level<any, any>

/** Write WRITTEN_BYTES of incompressible values under keys no store uses. */
async function fill(db: AnyLevel): Promise<void> {
  for (let i = 0; i < WRITTEN_BYTES / CHUNK_BYTES; i++) {
    await db.batch([{ type: 'put', key: `~level-options-test-${i}`, value: randomBytes(CHUNK_BYTES) }], { keyEncoding: 'utf8', valueEncoding: 'view' })
  }
}

function tableFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.ldb'))
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'atfed-level-options-'))
}

test('level options: the memtable holds more than LevelDB default flushes', async () => {
  assert.ok(LEVEL_WRITE_BUFFER_BYTES > WRITTEN_BYTES, 'the test writes less than one memtable')
  for (const [options, expectTables] of [[{}, true], [LEVEL_STORE_OPTIONS, false]] as const) {
    const dir = tempDir()
    try {
      const db: AnyLevel = new Level(dir, options)
      await db.open()
      await fill(db)
      await db.close() // waits for a flush already started
      assert.equal(tableFiles(dir).length > 0, expectTables, `options ${JSON.stringify(options)}: ${tableFiles(dir).join(', ')}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
})

test('level options: the relay database opens with them', async () => {
  const dir = tempDir()
  try {
    const db = await openRelayDb(dir)
    await fill(db)
    await db.close()
    assert.deepEqual(tableFiles(join(dir, 'relay-db')), [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('level options: the feed index and the labeler open with them', async () => {
  const dir = tempDir()
  try {
    const feed = await FeedStore.open(join(dir, 'feed'))
    await fill(feed.db as AnyLevel)
    await feed.db.close()
    assert.deepEqual(tableFiles(join(dir, 'feed')), [])
    const labels = await LabelStore.open(join(dir, 'labeler'))
    await fill(labels.db as AnyLevel)
    await labels.db.close()
    assert.deepEqual(tableFiles(join(dir, 'labeler', 'labels.db')), [])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('level options: the PDS database opens with them', async () => {
  const plc = await startPlcForPds()
  const pds = await startTestPds({ plc })
  try {
    await fill(pds.ctx.db)
    await pds.close()
    assert.deepEqual(tableFiles(join(pds.dataDir, 'db')), [])
  } finally {
    rmSync(pds.dataDir, { recursive: true, force: true })
    await plc.stop()
  }
})

test('level options: tables are cut in LEVEL_BLOCK_BYTES data blocks (the in-memory index has one entry per block)', { timeout: 60_000 }, async () => {
  const dir = tempDir()
  const valueBytes = 1_000
  const keyBytes = 'key-00000000'.length
  try {
    const db = new Level<string, Uint8Array>(dir, { ...LEVEL_STORE_OPTIONS, valueEncoding: 'view' })
    await db.open()
    // a memtable and a half of incompressible values: at least one flushed table
    for (let i = 0; i * valueBytes < LEVEL_WRITE_BUFFER_BYTES * 1.5; i += 1_000) {
      await db.batch(Array.from({ length: 1_000 }, (_, j) => ({ type: 'put' as const, key: `key-${String(i + j).padStart(8, '0')}`, value: randomBytes(valueBytes) })))
    }
    await db.close()
    const size = levelTableIndexSize(dir)
    assert.ok(size.tables > 0 && size.tableBytes > LEVEL_WRITE_BUFFER_BYTES / 2, JSON.stringify(size))
    const blocks = size.tableBytes / LEVEL_BLOCK_BYTES
    // per index entry: a key (≤ keyBytes), a handle (≤ 8 bytes here), 3 header varints, a 4-byte restart offset
    assert.ok(size.indexBytes >= blocks * 6 && size.indexBytes <= blocks * (keyBytes + 8 + 3 + 4) * 1.2,
      `${size.indexBytes} index bytes for ~${blocks.toFixed(0)} blocks of ${LEVEL_BLOCK_BYTES} bytes`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
