/**
 * scripts/level-table-index.ts reads a LevelDB table's index size from its
 * footer. Checked against tables LevelDB itself wrote: an index has one
 * entry per data block (a shortened key, a block handle, entry header and
 * restart offset), so its size is bounded by the block count, a 4x larger
 * block makes it about 4x smaller, and a file that is not a table (yet: a
 * flush or compaction still writing it) is named and left out of the sum.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Level } from 'level'
import { FOOTER_BYTES, TABLE_MAGIC, TableFormatError, levelTableIndexSize, tableIndexSize } from '../../scripts/level-table-index.ts'

const VALUE_BYTES = 1_000
const VALUES = 20_000
const KEY_BYTES = 'key-00000000'.length

async function writeTables(dir: string, blockSize: number): Promise<void> {
  // A 1 MB memtable so most values are flushed to table files (random values: snappy leaves data blocks at full size).
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view', writeBufferSize: 1024 * 1024, blockSize })
  await db.open()
  for (let i = 0; i < VALUES; i += 500) {
    await db.batch(Array.from({ length: 500 }, (_, j) => ({ type: 'put' as const, key: `key-${String(i + j).padStart(8, '0')}`, value: randomBytes(VALUE_BYTES) })))
  }
  await db.close()
}

test('level table index: sized by its block count, smaller with bigger blocks', { timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'atfed-table-index-'))
  try {
    const sizes = []
    for (const blockSize of [4096, 16384]) {
      const dir = join(root, String(blockSize))
      await writeTables(dir, blockSize)
      const size = levelTableIndexSize(dir)
      assert.ok(size.tables > 0 && size.tableBytes > (VALUES * VALUE_BYTES) / 2, JSON.stringify(size))
      const blocks = size.tableBytes / blockSize
      // per entry: key (≤ KEY_BYTES), handle (2 varints, ≤ 8 bytes here), 3 header varints, a 4-byte restart offset
      assert.ok(size.indexBytes >= blocks * 6 && size.indexBytes <= blocks * (KEY_BYTES + 8 + 3 + 4) * 1.5,
        `block ${blockSize}: ${size.indexBytes} index bytes for ~${blocks.toFixed(0)} blocks`)
      sizes.push(size.indexBytes)
    }
    const ratio = sizes[0]! / sizes[1]!
    assert.ok(ratio > 3 && ratio < 5, `4 KB blocks' index / 16 KB blocks' index = ${ratio}`)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

test('level table index: a file that is not a table is named and not counted, a missing directory throws', () => {
  const root = mkdtempSync(join(tmpdir(), 'atfed-table-index-'))
  try {
    writeFileSync(join(root, '000001.ldb'), randomBytes(100))
    assert.throws(() => tableIndexSize(join(root, '000001.ldb')), (err: Error) => err instanceof TableFormatError && /not a LevelDB table/.test(err.message))
    writeFileSync(join(root, '000002.ldb'), randomBytes(10))
    assert.throws(() => tableIndexSize(join(root, '000002.ldb')), /shorter than a table footer/)
    assert.deepEqual(levelTableIndexSize(root), { tables: 0, tableBytes: 0, indexBytes: 0, unfinished: 2 }, 'a table still being written has no footer yet')
    assert.throws(() => levelTableIndexSize(join(root, 'absent')), /ENOENT/)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})

/** A file of `bodyBytes` zeros and a table footer whose 40 handle bytes are `handles` (zero-padded), then the magic. */
function fakeTable(path: string, bodyBytes: number, handles: number[]): void {
  const footer = new Uint8Array(FOOTER_BYTES)
  footer.set(handles)
  new DataView(footer.buffer).setBigUint64(FOOTER_BYTES - 8, TABLE_MAGIC, true)
  const file = new Uint8Array(bodyBytes + footer.length)
  file.set(footer, bodyBytes)
  writeFileSync(path, file)
}

test('level table index: a footer whose index handle points past it, or whose varint never ends, is named', () => {
  const root = mkdtempSync(join(tmpdir(), 'atfed-table-index-'))
  try {
    // meta-index (0, 0), index at 20 with 40 bytes: its trailer would end at 65, past the footer at 60
    fakeTable(join(root, '000001.ldb'), 60, [0, 0, 20, 40])
    assert.throws(() => tableIndexSize(join(root, '000001.ldb')), (err: Error) => err instanceof TableFormatError && /index block runs past the footer/.test(err.message))
    // the same index 5 bytes shorter fits exactly: read (byte 55 is its trailer's compression byte, 0: stored raw)
    fakeTable(join(root, '000002.ldb'), 60, [0, 0, 20, 35])
    assert.deepEqual(tableIndexSize(join(root, '000002.ldb')), { fileBytes: 108, indexBytes: 35 })
    fakeTable(join(root, '000003.ldb'), 60, Array.from({ length: 40 }, () => 0xff))
    assert.throws(() => tableIndexSize(join(root, '000003.ldb')), (err: Error) => err instanceof TableFormatError && /varint at 0 runs past its buffer/.test(err.message))
    assert.deepEqual(levelTableIndexSize(root), { tables: 1, tableBytes: 108, indexBytes: 35, unfinished: 2 })
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
})
