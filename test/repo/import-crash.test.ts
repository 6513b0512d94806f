/**
 * Crash safety of repo import: a child process importing a CAR is killed
 * with SIGKILL at several points; afterwards the account's head is either
 * the old or the new commit and the repo it names is complete. The next
 * import then succeeds and sweeps whatever the dead one left, so the
 * account's key range holds exactly the new repo.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { cidKey } from '../../core/repo/block-reader.ts'
import type { LevelRepoStore } from '../../core/repo/block-store.ts'
import { exportRepoCar } from '../../core/repo/export.ts'
import { importRepoCar, stagingNamespace } from '../../core/repo/import.ts'
import { walkRepoTree } from '../../core/repo/repo-walk.ts'
import { verifyRepoBlocks } from '../../core/repo/verify-repo.ts'
import { collectBytes } from '../helpers/car-blocks.ts'
import { buildLargeRepo, headText, openTempStore, storeMemoryRepo } from '../helpers/repo-store.ts'
import { MemoryRepo, randomWrites, TEST_DID } from '../helpers/repo-writes.ts'
import { makeRng } from '../helpers/prng.ts'

const CHILD = join(import.meta.dirname, '..', 'helpers', 'import-child.ts')

async function exactRepo(store: LevelRepoStore): Promise<void> {
  const head = store.getHead(TEST_DID)!
  const expected = new Set([cidKey(head.commitCid)])
  for (const item of walkRepoTree(store.readerFor(TEST_DID), head.dataCid)) expected.add(cidKey(item.cid))
  const stored: string[] = []
  for await (const block of store.iterateBlocks(TEST_DID)) stored.push(cidKey(block.cid))
  assert.deepEqual(stored.sort(), [...expected].sort(), 'the key range holds exactly the repo')
}

test('kill -9 during an import leaves the old or the new repo, never a mix', { timeout: 120_000 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'atfed-import-crash-'))
  try {
    const keypair = generateKeypair('k256')
    const carPath = join(work, 'incoming.car')
    const source = await openTempStore()
    await buildLargeRepo(source.store, { did: TEST_DID, keypair, count: 10_000, recordBytes: 200 })
    await writeFile(carPath, await collectBytes(exportRepoCar(source.store, TEST_DID)))
    const incoming = source.store.getHead(TEST_DID)!
    await source.close()

    const rng = makeRng(5)
    const old = new MemoryRepo(TEST_DID, keypair)
    old.apply(randomWrites(rng, new Set(), 150))
    const outcomes = new Set<string>()
    for (const [delayMs, memoryBytesMax] of [[0, 0], [500, 0], [1_200, 0], [400, 1e9]]) {
      const dir = join(work, `db-${delayMs}-${memoryBytesMax}`)
      const setup = await openTempStore(dir)
      await storeMemoryRepo(setup.store, old)
      await setup.close()

      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, carPath, TEST_DID, String(memoryBytesMax)], { stdio: ['ignore', 'pipe', 'inherit'] })
      let output = ''
      child.stdout.on('data', (chunk) => (output += chunk))
      const exited = once(child, 'exit')
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => output.includes('ready') && resolve())
        child.once('exit', () => reject(new Error(`child exited early: ${output}`)))
      })
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      child.kill('SIGKILL')
      await exited

      const after = await openTempStore(dir)
      try {
        const head = after.store.getHead(TEST_DID)!
        const which = headText(head) === headText(old.head) ? 'old' : headText(head) === headText(incoming) ? 'new' : 'other'
        assert.notEqual(which, 'other')
        outcomes.add(output.includes('done') ? 'finished' : which)
        verifyRepoBlocks(after.store.readerFor(TEST_DID), head.commitCid, { did: TEST_DID, key: keypair.publicKey })

        await importRepoCar(await readFile(carPath), { store: after.store, did: TEST_DID })
        assert.equal(headText(after.store.getHead(TEST_DID)!), headText(incoming))
        await exactRepo(after.store)
        for await (const _ of after.store.iterateBlocks(stagingNamespace(TEST_DID))) assert.fail('staging left behind')
      } finally {
        await after.close()
      }
    }
    console.log(`# outcomes: ${[...outcomes].join(', ')}`)
    assert.ok(outcomes.has('old'), `some kill landed before the switch: ${[...outcomes]}`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})
