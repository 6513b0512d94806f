/**
 * How much of a process's own (anonymous) memory its LevelDB databases'
 * table indexes take, read from the table files on disk.
 *
 * LevelDB keeps every open table's index block in memory for as long as the
 * table is open (its table cache holds up to `maxOpenFiles` tables, 1,000 by
 * default, and compaction opens each table it writes). The index has one
 * entry per data block, so it grows with the data stored: a soak that only
 * adds data sees this memory rise at a steady rate that is not a leak.
 * Index blocks are stored snappy-compressed, so LevelDB decompresses them
 * into the heap; bloom filters are stored raw and read through the mmap of
 * the table file, so they count as file pages, not here.
 *
 * A table file ends in a 48-byte footer: two block handles (varint offset,
 * varint size: the meta-index, then the index) padded to 40 bytes, then the
 * 8-byte magic. A block is followed by a 5-byte trailer whose first byte is
 * its compression (0 none, 1 snappy); a snappy block begins with its
 * uncompressed length as a varint.
 */
import { closeSync, fstatSync, openSync, readSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

export const FOOTER_BYTES = 48
export const TABLE_MAGIC = 0xdb4775248b80fb57n
const SNAPPY = 1
/** After every block: its compression byte and a 4-byte checksum. */
const BLOCK_TRAILER_BYTES = 5
/** A varint64 takes at most 10 bytes. */
const VARINT_BYTES_MAX = 10

export type TableIndexSize = {
  tables: number
  tableBytes: number
  /** Index blocks as LevelDB holds them in memory (uncompressed). */
  indexBytes: number
  /** Table files without a complete footer: still being written by a flush or compaction (their index is not loaded yet). */
  unfinished: number
}

export class TableFormatError extends Error {
  override readonly name = 'TableFormatError'
}

function varint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0
  for (let shift = 0, i = at; i < bytes.length && shift < 64; shift += 7, i++) {
    value += (bytes[i]! & 0x7f) * 2 ** shift
    if (bytes[i]! < 0x80) return [value, i + 1]
  }
  throw new TableFormatError(`varint at ${at} runs past its buffer`)
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length)
  if (readSync(fd, bytes, 0, length, position) !== length) throw new TableFormatError(`short read of ${length} bytes at ${position}`)
  return bytes
}

/** One table file's size and the in-memory size of its index block. */
export function tableIndexSize(path: string): { fileBytes: number; indexBytes: number } {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    if (size < FOOTER_BYTES) throw new TableFormatError(`${path}: ${size} bytes is shorter than a table footer`)
    const footer = readAt(fd, size - FOOTER_BYTES, FOOTER_BYTES)
    const magic = new DataView(footer.buffer).getBigUint64(FOOTER_BYTES - 8, true)
    if (magic !== TABLE_MAGIC) throw new TableFormatError(`${path}: not a LevelDB table (magic ${magic.toString(16)})`)
    const [, afterMetaOffset] = varint(footer, 0)
    const [, afterMetaSize] = varint(footer, afterMetaOffset)
    const [indexOffset, afterIndexOffset] = varint(footer, afterMetaSize)
    const [indexSize] = varint(footer, afterIndexOffset)
    if (indexOffset + indexSize + BLOCK_TRAILER_BYTES > size - FOOTER_BYTES) throw new TableFormatError(`${path}: index block runs past the footer`)
    const compression = readAt(fd, indexOffset + indexSize, 1)[0]
    if (compression !== SNAPPY) return { fileBytes: size, indexBytes: indexSize }
    return { fileBytes: size, indexBytes: varint(readAt(fd, indexOffset, Math.min(VARINT_BYTES_MAX, indexSize)), 0)[0] }
  } finally {
    closeSync(fd)
  }
}

/**
 * Sum over the table files of every LevelDB database under `dir`. A table
 * deleted by a compaction between the listing and the read is skipped; one
 * still being written is counted as unfinished.
 */
export function levelTableIndexSize(dir: string): TableIndexSize {
  const total: TableIndexSize = { tables: 0, tableBytes: 0, indexBytes: 0, unfinished: 0 }
  const visit = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) visit(path)
      else if (entry.name.endsWith('.ldb')) {
        try {
          const table = tableIndexSize(path)
          total.tableBytes += table.fileBytes
          total.indexBytes += table.indexBytes
          total.tables++
        } catch (err) {
          if (err instanceof TableFormatError) total.unfinished++
          else if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
      }
    }
  }
  visit(dir)
  return total
}
