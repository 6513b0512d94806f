/**
 * The PDS never stores an empty value (core/presence-value.ts: classic-level
 * leaks one allocation per empty value written, for the life of the
 * process). A session, a second login, an unreferenced upload (a gc index
 * entry) and a record write, then the whole database read raw.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Level } from 'level'
import { emptyValueKeys } from '../helpers/empty-values.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc } from '../helpers/pds.ts'
import { makePng } from '../helpers/png.ts'

test('sessions, the blob gc index and repo writes store no empty value', async () => {
  const plc = await startPlcForPds()
  const pds = await startTestPds({ plc })
  try {
    const account = await createTestAccount(pds.url, 'values.test')
    const login = await xrpc(pds.url, 'com.atproto.server.createSession', { body: { identifier: 'values.test', password: 'hunter2-password' } })
    assert.equal(login.status, 200)
    const upload = await fetch(`${pds.url}/xrpc/com.atproto.repo.uploadBlob`, {
      method: 'POST', headers: { 'content-type': 'image/png', authorization: `Bearer ${account.accessJwt}` }, body: makePng({ seed: 3 }),
    })
    assert.equal(upload.status, 200)
    const record = { $type: 'app.bsky.feed.post', text: 'values', createdAt: new Date().toISOString() }
    const created = await xrpc(pds.url, 'com.atproto.repo.createRecord', { token: account.accessJwt, body: { repo: account.did, collection: 'app.bsky.feed.post', record } })
    assert.equal(created.status, 200)
  } finally {
    await pds.close()
  }
  const db = new Level<string, string>(join(pds.dataDir, 'db'))
  try {
    const keys = []
    for await (const key of db.keys()) keys.push(key)
    assert.ok(keys.some((k) => k.startsWith('!sessions!!by-did!')), 'a session index entry was written')
    assert.ok(keys.some((k) => k.startsWith('!blobs!!gc!')), 'a gc index entry was written')
    assert.deepEqual(await emptyValueKeys(db), [])
  } finally {
    await db.close()
    await pds.stop().catch(() => {})
    await plc.stop()
  }
})
