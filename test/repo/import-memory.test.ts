/**
 * Memory stays flat: a 100k-record repo is exported from one level store and
 * streamed straight into an import into another, while the heap is sampled
 * after forced collections. The CAR is ~40 MB; neither side may hold it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { exportRepoCar } from '../../core/repo/export.ts'
import { importRepoCar } from '../../core/repo/import.ts'
import { TEST_DID } from '../helpers/repo-writes.ts'
import { buildLargeRepo, withTempStore } from '../helpers/repo-store.ts'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const RECORDS = 100_000
const MB = 1024 * 1024

test(`export → import of a ${RECORDS}-record repo keeps the heap flat`, { timeout: 120_000 }, async () => {
  const keypair = generateKeypair('k256')
  await withTempStore(async ({ store: source }) => {
    const head = await buildLargeRepo(source, { did: TEST_DID, keypair, count: RECORDS, recordBytes: 250 })
    await withTempStore(async ({ store: target }) => {
      gc()
      const baseline = process.memoryUsage().heapUsed
      let peak = 0
      const sampler = setInterval(() => {
        gc()
        peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
      }, 1_000)
      let carBytes = 0
      async function* counted() {
        for await (const chunk of exportRepoCar(source, TEST_DID)) {
          carBytes += chunk.length
          yield chunk
        }
      }
      try {
        const started = performance.now()
        const imported = await importRepoCar(counted(), { store: target, did: TEST_DID, key: keypair.publicKey })
        const seconds = (performance.now() - started) / 1000
        assert.equal(imported.records, RECORDS)
        assert.ok(imported.commitCid.equals(head.commitCid))
        assert.equal(imported.bytes, carBytes)
        console.log(
          `# ${RECORDS} records, CAR ${(carBytes / MB).toFixed(1)} MB: export+import+verify ${seconds.toFixed(1)} s ` +
            `(${(carBytes / MB / seconds).toFixed(1)} MB/s), peak heap growth ${(peak / MB).toFixed(1)} MB`,
        )
      } finally {
        clearInterval(sampler)
      }
      assert.ok(carBytes > 30 * MB, 'the CAR is big enough for the bound to mean something')
      assert.ok(peak < 16 * MB, `heap grew by ${(peak / MB).toFixed(1)} MB`)
    })
  })
})
