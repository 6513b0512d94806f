/**
 * pds/native-batch.ts: a batch written through the implementation methods
 * stores exactly what `db.batch(ops)` stores — seeded random ops on the root
 * db (view keys) and on nested sublevels with utf8, json and view encodings,
 * puts and dels of the same keys in one batch (order kept) — compared
 * entry by entry with a second db written by `db.batch`; the public
 * fallback (a batch class without `_put`) stores the same; a failing op
 * writes nothing of its batch; an op for another database's sublevel is
 * refused.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Level } from 'level'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import { writeNativeBatch } from '../../pds/native-batch.ts'
import { makeRng, type Rng } from '../helpers/prng.ts'

type Dbs = { db: RootDb; subs: any[]; close(): Promise<void> }

async function openDbs(): Promise<Dbs> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-native-batch-'))
  const db: RootDb = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const repo = db.sublevel('repo', { keyEncoding: 'utf8', valueEncoding: 'json' })
  const subs = [
    repo,
    repo.sublevel('refs', { keyEncoding: 'utf8', valueEncoding: 'utf8' }),
    db.sublevel('events', { keyEncoding: 'view', valueEncoding: 'view' }),
  ]
  return { db, subs, close: async () => { await db.close(); rmSync(dir, { recursive: true, force: true }) } }
}

function bytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256))
}

/** Random ops; keys drawn from a small pool so puts and dels of one key meet in a batch. */
function randomOps(rng: Rng, subs: any[], n: number): StoreBatchOp[] {
  const ops: any[] = []
  for (let i = 0; i < n; i++) {
    const target = rng.int(subs.length + 1)
    const del = rng.int(4) === 0
    const k = rng.int(12)
    if (target === subs.length) {
      const key = Uint8Array.of(0x21, 0x72, k, rng.int(3)) // '!r' like the block keys
      ops.push(del ? { type: 'del', key, keyEncoding: 'view' } : { type: 'put', key, value: bytes(rng, 1 + rng.int(40)), keyEncoding: 'view', valueEncoding: 'view' })
      continue
    }
    const sublevel = subs[target]
    const key = target === 2 ? Uint8Array.of(k) : `key-${k}`
    const value = target === 0 ? { n: rng.int(1000), s: `v${i}` } : target === 1 ? `text ${rng.int(99)}` : bytes(rng, 1 + rng.int(40))
    ops.push(del ? { type: 'del', sublevel, key } : { type: 'put', sublevel, key, value })
  }
  return ops as StoreBatchOp[]
}

async function contents(db: RootDb): Promise<string[]> {
  const out: string[] = []
  for await (const [key, value] of db.iterator({ keyEncoding: 'view', valueEncoding: 'view' })) {
    out.push(`${Buffer.from(key).toString('hex')}=${Buffer.from(value).toString('hex')}`)
  }
  return out
}

/** Ops rebuilt for `dbs` (same sublevel by index). */
function retarget(ops: StoreBatchOp[], from: Dbs, to: Dbs): StoreBatchOp[] {
  return ops.map((op: any) => (op.sublevel ? { ...op, sublevel: to.subs[from.subs.indexOf(op.sublevel)] } : op))
}

describe('writeNativeBatch', () => {
  for (const seed of [1, 2, 3]) {
    it(`stores what db.batch stores (seed ${seed})`, { timeout: 20_000 }, async () => {
      const rng = makeRng(seed)
      const [ours, theirs] = [await openDbs(), await openDbs()]
      for (let round = 0; round < 20; round++) {
        const ops = randomOps(rng, ours.subs, 1 + rng.int(30))
        await writeNativeBatch(ours.db, ops, { sync: round % 5 === 0 })
        await theirs.db.batch(retarget(ops, ours, theirs), { sync: false })
      }
      const expected = await contents(theirs.db)
      assert.ok(expected.length > 20)
      assert.deepEqual(await contents(ours.db), expected)
      assert.deepEqual(await ours.subs[0].get('key-1'), await theirs.subs[0].get('key-1'))
      await ours.close()
      await theirs.close()
    })
  }

  it('stores the same through the public fallback (a batch class without _put)', { timeout: 20_000 }, async () => {
    const rng = makeRng(7)
    const [ours, theirs] = [await openDbs(), await openDbs()]
    const original = ours.db.batch.bind(ours.db) as (...args: unknown[]) => any
    ;(ours.db as any).batch = (...args: unknown[]) => {
      if (args.length > 0) return original(...args)
      const chained = original()
      Object.setPrototypeOf(chained, Object.create(Object.getPrototypeOf(chained))) // own class without the methods
      return chained
    }
    for (let round = 0; round < 10; round++) {
      const ops = randomOps(rng, ours.subs, 1 + rng.int(30))
      await writeNativeBatch(ours.db, ops, { sync: false })
      await theirs.db.batch(retarget(ops, ours, theirs), { sync: false })
    }
    assert.deepEqual(await contents(ours.db), await contents(theirs.db))
    await ours.close()
    await theirs.close()
  })

  it('writes nothing of a batch with a bad op, and refuses a sublevel of another db', { timeout: 20_000 }, async () => {
    const [a, b] = [await openDbs(), await openDbs()]
    const good = { type: 'put', key: Uint8Array.of(1), value: Uint8Array.of(2), keyEncoding: 'view', valueEncoding: 'view' }
    await assert.rejects(writeNativeBatch(a.db, [good, { type: 'put', sublevel: a.subs[0], key: 'k', value: 10n }] as StoreBatchOp[], { sync: false }))
    await assert.rejects(writeNativeBatch(a.db, [good, { type: 'put', sublevel: b.subs[1], key: 'k', value: 'v' }] as StoreBatchOp[], { sync: false }))
    assert.deepEqual(await contents(a.db), [])
    await writeNativeBatch(a.db, [good] as StoreBatchOp[], { sync: true })
    assert.deepEqual(await contents(a.db), ['01=02'])
    await a.close()
    await b.close()
  })
})
