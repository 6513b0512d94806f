/**
 * The relay's one `level` database under `<dataDir>/relay-db`, and the
 * shapes its stores share. Three areas, each a sublevel of the root, in
 * key order:
 * - the event log (core/stream/event-log-level.ts, name `events`);
 * - `hosts`: hostname → host record (JSON), hosts/host-registry.ts;
 * - `state/accounts`: DID → account state (JSON), accounts.ts.
 * The two stores sort after the log on purpose (accounts.ts says why).
 * Every write to them goes through the sequencer's batches (sequencer.ts),
 * so a host's cursor, the account states and the events they produced land
 * in the same atomic batch.
 */
import { LEVEL_STORE_OPTIONS } from '../core/level-options.ts'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { AbstractBatchOperation } from 'abstract-level'
import { Level } from 'level'

// Any `level` database; encodings are set per sublevel, as in core/repo/block-store.ts.
export type RelayDb = Level<any, any>
export type RelayBatchOp = AbstractBatchOperation<RelayDb, unknown, unknown>

/** Ops for the next batch from a store with unsaved changes, and what to do once they are durable. */
export type StagedWrites = { ops: RelayBatchOp[]; settled(): void }

export async function openRelayDb(dataDir: string): Promise<RelayDb> {
  mkdirSync(dataDir, { recursive: true })
  const db: RelayDb = new Level(join(dataDir, 'relay-db'), { keyEncoding: 'utf8', valueEncoding: 'view', ...LEVEL_STORE_OPTIONS })
  await db.open()
  return db
}
