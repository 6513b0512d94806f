/**
 * The LevelDB options every service's store opens with (PDS, relay, feed
 * generator, labeler, PLC directory, the CLI's scratch stores): bigger
 * memtables and table files than LevelDB's defaults (4 MB, 2 MB).
 *
 * Why: LevelDB compacts a table file once it has been charged
 * `size / 16 KB` (at least 100) "seeks", a charge for every point read
 * that had to look in more than one file — bloom-filter misses included,
 * so every `get` of a key that does not exist yet counts (the PDS asks for
 * each new record's reference count, the feed generator for each new
 * post's row). At the defaults almost every fresh 2 MB level-0 file was
 * compacted alone into all of level 1 within seconds: in a 15 min soak the
 * PDS's LevelDB rewrote 30.5 GB for 2.8 GB flushed (2,122 single-file
 * level-0 compactions) and the feed generator's 7.5 GB for 0.14 GB, which
 * took a third of each process's CPU. 32 MB files allow 2,048 seeks each
 * and a 32 MB memtable makes level-0 files of ~20 MB.
 *
 * Data blocks of 16 KB instead of 4 KB: LevelDB keeps the index block of
 * every open table in memory (decompressed, one entry per data block) for
 * as long as the table is open, so that memory grows with the data stored.
 * Read from the table files of an 8 min soak, 4 KB blocks cost 15.5 MB of
 * index per GB of tables for the PDS and 12.4 for the relay (their steady
 * anonymous-memory rise); 16 KB blocks cut it about fourfold. Point reads
 * decompress a 16 KB block instead of 4 KB; that cost did not show: two
 * 6 min soaks back to back used 2.42 (4 KB) and 2.36 ms (16 KB) of CPU per
 * write across the pipeline, and the PDS write profile's spread between
 * runs (1.2–1.5 ms per create) was the same for both.
 * The table cache holds LEVEL_OPEN_TABLES_MAX tables (LevelDB's default,
 * named here because it is what bounds that memory: ~100 MB at 1,000).
 *
 * Cost: up to two memtables per open database (the one filling and the one
 * being flushed), so up to 2 × LEVEL_WRITE_BUFFER_BYTES of memory under
 * sustained writes, and up to that much write-ahead log to replay on open.
 */
import { LEVEL_BLOCK_BYTES, LEVEL_OPEN_TABLES_MAX, LEVEL_TABLE_FILE_BYTES, LEVEL_WRITE_BUFFER_BYTES } from './limits.ts'

export const LEVEL_STORE_OPTIONS = {
  writeBufferSize: LEVEL_WRITE_BUFFER_BYTES, maxFileSize: LEVEL_TABLE_FILE_BYTES, blockSize: LEVEL_BLOCK_BYTES,
  maxOpenFiles: LEVEL_OPEN_TABLES_MAX,
} as const
