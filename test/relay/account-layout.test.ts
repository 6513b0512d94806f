/**
 * Where the relay keeps account states (relay/accounts.ts): after the event
 * log in key order, and moved there from the old `accounts` sublevel on
 * open, in atomic batches, including after a move that was cut short.
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { parseCid } from '../../core/data/cid.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { Tid } from '../../core/syntax/tid.ts'
import { ACCOUNTS_SUBLEVEL, AccountStore, OLD_ACCOUNTS_SUBLEVEL, encodeAccountJson } from '../../relay/accounts.ts'
import type { AccountState } from '../../relay/accounts.ts'
import type { HostName } from '../../relay/hosts/host-name.ts'
import { openRelayDb } from '../../relay/relay-db.ts'
import type { RelayDb } from '../../relay/relay-db.ts'

const CID = parseCid('bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm')

function state(i: number): AccountState {
  return {
    did: `did:plc:layout${i}` as Did,
    host: 'pds.example.com' as HostName,
    rev: '3kaaaaaaaaaa2' as Tid,
    commit: CID,
    data: CID,
    status: 'active',
    upstream: 'active',
  }
}

async function withDb(body: (db: RelayDb) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-relay-layout-'))
  const db = await openRelayDb(dir)
  try {
    await body(db)
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const text = (db: RelayDb, path: string | readonly string[]) => db.sublevel<string, string>(path as string, { valueEncoding: 'utf8' })

test('relay accounts: states sort after every key of the event log (and so do host records)', async () => {
  await withDb(async (db) => {
    const log = [db.sublevel(['events', 'events']).prefix, db.sublevel(['events', 'meta']).prefix]
    const after = [text(db, [...ACCOUNTS_SUBLEVEL]).prefix, text(db, 'hosts').prefix]
    for (const state of after) {
      for (const prefix of log) {
        assert.ok(!state.startsWith(prefix) && !prefix.startsWith(state), `${state} and ${prefix} are separate ranges`)
        assert.ok(state > prefix, `${state} sorts after ${prefix}`)
      }
    }
    assert.ok(text(db, OLD_ACCOUNTS_SUBLEVEL).prefix < log[0]!, 'the old place sorted before the log (why they moved)')
  })
})

test('relay accounts: open moves old states in batches and reads them back', async () => {
  await withDb(async (db) => {
    const old = text(db, OLD_ACCOUNTS_SUBLEVEL)
    const states = [1, 2, 3, 4, 5].map(state)
    await old.batch(states.map((s) => ({ type: 'put' as const, key: s.did, value: encodeAccountJson(s) })))
    const store = await AccountStore.open(db, { moveBatchMax: 2 })
    assert.deepEqual(await old.keys().all(), [], 'nothing left in the old place')
    assert.deepEqual(await text(db, [...ACCOUNTS_SUBLEVEL]).keys().all(), states.map((s) => s.did).sort())
    for (const s of states) assert.equal(store.get(s.did)?.rev, s.rev)
    assert.equal(store.get('did:plc:layout9' as Did), null)
  })
})

test('relay accounts: a move cut short goes on at the next open, newer copies untouched', async () => {
  await withDb(async (db) => {
    const old = text(db, OLD_ACCOUNTS_SUBLEVEL)
    const moved = text(db, [...ACCOUNTS_SUBLEVEL])
    // As a crash between two move batches leaves it: 1 and 2 moved, 3 not yet.
    await moved.batch([1, 2].map((i) => ({ type: 'put' as const, key: state(i).did, value: encodeAccountJson(state(i)) })))
    await old.put(state(3).did, encodeAccountJson(state(3)))
    const store = await AccountStore.open(db)
    assert.deepEqual(await old.keys().all(), [])
    for (const i of [1, 2, 3]) assert.equal(store.get(state(i).did)?.did, state(i).did)
  })
})
