/**
 * The commit index behind getRepo `since` (pds/repo/commit-index.ts), in
 * process on a real level db: an unbroken chain answers the union of the
 * later commits' blocks (deduplicated, in commit order); a gap, a first
 * commit after `since` that does not link back to it, a chain that stops
 * short of the head, or a diff over PDS_GET_REPO_SINCE_BLOCKS_MAX blocks
 * answers null (full repo); pruning by age and per-DID clearing (a DID that
 * prefixes another is not touched). Seeded random chains with a random
 * missing link check the chain rule against a direct computation. Entries
 * past PDS_COMMIT_INDEX_PENDING_MAX in one turn are dropped (a full-repo
 * answer, never a wrong one); entries recorded are readable at once; the
 * entries a data directory from before kept in the repo database are
 * cleared on open, and nothing else there.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cidForRaw } from '../../core/data/cid.ts'
import { PDS_COMMIT_INDEX_PENDING_MAX, PDS_COMMIT_INDEX_RETENTION_MS, PDS_GET_REPO_SINCE_BLOCKS_MAX } from '../../core/limits.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { binaryStoreDb } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import { tidFromTimestampUs, type Tid } from '../../core/syntax/tid.ts'
import { CommitIndex } from '../../pds/repo/commit-index.ts'
import { makeRng } from '../helpers/prng.ts'

const DID = 'did:plc:abcabcabcabcabcabcabcabc' as Did
const LONGER = 'did:plc:abcabcabcabcabcabcabcabcd' as Did

function rev(ms: number): Tid {
  return tidFromTimestampUs(ms * 1000, 0)
}

function blocks(labels: string[]): MemoryBlockMap {
  const map = new MemoryBlockMap()
  for (const label of labels) {
    const bytes = new TextEncoder().encode(label)
    map.set(cidForRaw(bytes), bytes)
  }
  return map
}

const cidOf = (label: string) => cidForRaw(new TextEncoder().encode(label)).toString()

describe('commit index', () => {
  let dir: string
  let index: CommitIndex
  const now = Date.now()

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'atfed-commit-index-'))
    index = await CommitIndex.open(dir)
  })
  after(async () => {
    await index.close()
    rmSync(dir, { recursive: true, force: true })
  })

  // Not awaited: what is recorded is visible to the next read.
  const put = async (did: Did, r: Tid, since: Tid | null, labels: string[]) => index.record(did, { rev: r, since, newBlocks: blocks(labels) })

  it('answers the blocks of an unbroken chain, and null otherwise', async () => {
    const [r0, r1, r2, r3] = [rev(now - 4000), rev(now - 3000), rev(now - 2000), rev(now - 1000)]
    await put(DID, r1, r0, ['a', 'shared'])
    await put(DID, r2, r1, ['b', 'shared'])
    await put(DID, r3, r2, ['c'])
    await put(LONGER, r1, r0, ['other'])
    const all = await index.blocksSince(DID, r0, r3)
    assert.deepEqual(all?.map(String), ['a', 'shared', 'b', 'c'].map(cidOf).filter((c, i, arr) => arr.indexOf(c) === i))
    assert.deepEqual((await index.blocksSince(DID, r1, r3))?.map(String), ['b', 'shared', 'c'].map(cidOf))
    assert.deepEqual(await index.blocksSince(DID, r3, r3), [])
    assert.equal(await index.blocksSince(DID, rev(now - 5000), r3), null, 'the first commit does not link back to since')
    assert.equal(await index.blocksSince(DID, r0, rev(now)), null, 'the chain stops short of the head')
    // A commit made outside the index (an import) breaks the chain after it.
    const [r4, r5] = [rev(now - 900), rev(now - 800)]
    await put(DID, r5, r4, ['e'])
    assert.equal(await index.blocksSince(DID, r2, r5), null)
    assert.deepEqual((await index.blocksSince(DID, r4, r5))?.map(String), [cidOf('e')])
  })

  it('answers null past the block cap', async () => {
    const did = 'did:plc:bigbigbigbigbigbigbigbigb' as Did
    const labels = Array.from({ length: PDS_GET_REPO_SINCE_BLOCKS_MAX + 1 }, (_, i) => `big-${i}`)
    await put(did, rev(now - 100), rev(now - 200), labels)
    assert.equal(await index.blocksSince(did, rev(now - 200), rev(now - 100)), null)
    assert.equal((await index.blocksSince(did, rev(now - 150), rev(now - 100))), null)
  })

  it('prunes by age and clears one DID only', async () => {
    const did = 'did:plc:oldoldoldoldoldoldoldoldo' as Did
    const old = rev(now - PDS_COMMIT_INDEX_RETENTION_MS - 60_000)
    const older = rev(now - PDS_COMMIT_INDEX_RETENTION_MS - 120_000)
    const fresh = rev(now - 1000)
    await put(did, old, older, ['old'])
    await put(did, fresh, old, ['fresh'])
    assert.deepEqual((await index.blocksSince(did, older, fresh))?.map(String), ['old', 'fresh'].map(cidOf))
    await index.prune(did, now)
    assert.equal(await index.blocksSince(did, older, fresh), null, 'pruned history: full repo')
    assert.deepEqual((await index.blocksSince(did, old, fresh))?.map(String), [cidOf('fresh')])
    await index.clear(DID)
    assert.equal(await index.blocksSince(DID, rev(now - 4000), rev(now - 1000)), null)
    assert.deepEqual((await index.blocksSince(LONGER, rev(now - 4000), rev(now - 3000)))?.map(String), [cidOf('other')])
  })

  it('matches a direct computation on random chains with a random missing link (seeded)', async () => {
    for (let seed = 1; seed <= 25; seed++) {
      const rng = makeRng(seed)
      const did = `did:plc:seed${String(seed).padStart(20, 'x')}` as Did
      const n = 2 + rng.int(8)
      const revs = Array.from({ length: n + 1 }, (_, i) => rev(now - 100_000 + i * 1000 + seed))
      const missing = rng.int(3) === 0 ? 1 + rng.int(n) : -1 // commit index `missing` was made outside the write path
      const labelsOf = (i: number) => [`s${seed}-c${i}`, `s${seed}-shared${rng.int(3)}`]
      const labels: string[][] = []
      for (let i = 1; i <= n; i++) {
        labels[i] = labelsOf(i)
        if (i !== missing) await put(did, revs[i] as Tid, revs[i - 1] as Tid, labels[i] as string[])
      }
      const from = rng.int(n)
      const got = await index.blocksSince(did, revs[from] as Tid, revs[n] as Tid)
      if (missing > from) {
        assert.equal(got, null, `seed ${seed}`)
      } else {
        const expected = [...new Set(labels.slice(from + 1).flat().map(cidOf))]
        assert.deepEqual(got?.map(String), expected, `seed ${seed}`)
      }
    }
  })

  it(`drops entries past ${PDS_COMMIT_INDEX_PENDING_MAX} waiting in one turn: that chain answers the full repo`, async () => {
    const did = 'did:plc:manymanymanymanymanymanym' as Did
    const revs = Array.from({ length: PDS_COMMIT_INDEX_PENDING_MAX + 2 }, (_, i) => rev(now - 50_000_000 + i))
    const before = index.dropped
    for (let i = 1; i <= PDS_COMMIT_INDEX_PENDING_MAX; i++) index.record(did, { rev: revs[i] as Tid, since: revs[i - 1] as Tid, newBlocks: blocks([`m${i}`]) })
    assert.equal(index.dropped, before, 'exactly the cap is kept')
    const last = PDS_COMMIT_INDEX_PENDING_MAX + 1
    index.record(did, { rev: revs[last] as Tid, since: revs[last - 1] as Tid, newBlocks: blocks([`m${last}`]) })
    assert.equal(index.dropped, before + 1)
    assert.equal(await index.blocksSince(did, revs[0] as Tid, revs[last] as Tid), null, 'the dropped head entry breaks the chain')
    assert.deepEqual((await index.blocksSince(did, revs[last - 2] as Tid, revs[last - 1] as Tid))?.map(String), [cidOf(`m${last - 1}`)])
    index.record(did, { rev: revs[last] as Tid, since: revs[last - 1] as Tid, newBlocks: blocks([`m${last}`]) })
    assert.equal(index.dropped, before + 1, 'the queue emptied once written')
    assert.deepEqual((await index.blocksSince(did, revs[last - 1] as Tid, revs[last] as Tid))?.map(String), [cidOf(`m${last}`)])
  })
})

describe('commit index: a data directory from before', () => {
  it('clears the entries the repo database kept, and nothing else there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'atfed-commit-index-legacy-'))
    const repoDb = binaryStoreDb(join(dir, 'db'))
    try {
      await repoDb.open()
      const legacy = repoDb.sublevel<string, Uint8Array>(['repo', 'commit-index'], { keyEncoding: 'utf8', valueEncoding: 'view' })
      const neighbour = repoDb.sublevel<string, Uint8Array>(['repo', 'heads'], { keyEncoding: 'utf8', valueEncoding: 'view' })
      await legacy.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `${DID}\u0000${rev(i + 1)}`, value: new Uint8Array([i % 256]) })))
      await neighbour.put('kept', new Uint8Array([1]))
      const index = await CommitIndex.open(dir, repoDb)
      await index.legacyCleared()
      assert.deepEqual(await legacy.keys().all(), [])
      assert.deepEqual(await neighbour.keys().all(), ['kept'])
      await index.close()
    } finally {
      await repoDb.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
