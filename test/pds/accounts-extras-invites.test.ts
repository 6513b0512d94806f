/**
 * Invite codes: the claim logic of InviteStore in-process (slots, in-flight
 * claims, expiry, a seeded random schedule of claims that land or fail),
 * then an invite-required PDS over HTTP: signups without / with a bad,
 * used-up or disabled code fail as `InvalidInviteCode`, a good code works
 * and is consumed in the signup's batch, concurrent signups never overuse
 * a code, the admin and user listings, limits by error name, and
 * `atfed admin invites create/list/disable` as child processes.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { Level } from 'level'
import { PDS_INVITE_CLAIM_PENDING_MS, PDS_INVITE_CODE_USES_MAX, PDS_INVITE_CODES_PER_CALL_MAX } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import { InviteStore } from '../../pds/accounts/invites.ts'
import { makeRng } from '../helpers/prng.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const ADMIN = `Basic ${Buffer.from('admin:admin-secret').toString('base64')}`
const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)

async function atfed(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [ATFED, ...args], { env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('InviteStore claims', () => {
  let dir: string
  let db: RootDb
  let clock = 1_000_000
  let store: InviteStore
  const did = (i: number) => `did:plc:${String(i).padStart(24, 'a')}` as Did

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'atfed-invites-'))
    db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    store = await InviteStore.open(db, { now: () => clock })
  })
  after(async () => {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const row = (code: string, available: number) => ({ code, available, disabled: false, forAccount: 'admin', createdBy: 'admin', createdAt: new Date(clock).toISOString() })

  it('gives each claim its own slot; an unwritten claim holds its slot until it expires', async () => {
    await store.create([row('c-two', 2)])
    const a = store.claimUseOps('c-two', did(1))
    const b = store.claimUseOps('c-two', did(2))
    assert.notEqual((a[0] as { key: string }).key, (b[0] as { key: string }).key)
    assert.throws(() => store.claimUseOps('c-two', did(3)), { name: 'InvalidInviteCode' })
    await db.batch(a, { sync: true }) // a lands, b "fails" (never written)
    assert.equal(await store.usedCount(row('c-two', 2)), 2, 'the in-flight claim still counts')
    clock += PDS_INVITE_CLAIM_PENDING_MS + 1
    assert.equal(await store.usedCount(row('c-two', 2)), 1)
    const c = store.claimUseOps('c-two', did(3))
    await db.batch(c, { sync: true })
    assert.throws(() => store.claimUseOps('c-two', did(4)), { name: 'InvalidInviteCode' })
    const uses = await store.usesOf(row('c-two', 2))
    assert.deepEqual(uses.map((u) => u.usedBy).sort(), [did(1), did(3)])
  })

  it('never stores more uses than a code allows, whatever lands or fails (seeded)', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = makeRng(seed)
      const code = `c-seed-${seed}`
      const available = 1 + rng.int(4)
      await store.create([row(code, available)])
      const pending: StoreBatchOp[][] = []
      let landed = 0
      let held = 0 // failed signups whose claims have not expired yet
      for (let step = 0; step < 30; step++) {
        const r = rng.int(4)
        if (r === 0 && pending.length > 0) {
          await db.batch(pending.splice(rng.int(pending.length), 1)[0] as StoreBatchOp[], { sync: true })
          landed++
        } else if (r === 1 && pending.length > 0) {
          pending.splice(rng.int(pending.length), 1) // this signup failed
          held++
        } else if (r === 2) {
          clock += PDS_INVITE_CLAIM_PENDING_MS + 1
          pending.length = 0 // claims older than the expiry are dead signups by contract
          held = 0
        } else {
          try {
            pending.push(store.claimUseOps(code, did(step)))
          } catch (err) {
            assert.equal((err as Error).name, 'InvalidInviteCode')
            assert.ok(landed + pending.length + held >= available, `seed ${seed}: refused while a use was free`)
          }
        }
        assert.ok(landed + pending.length <= available, `seed ${seed}: over-claimed`)
      }
      const stored = await store.usesOf(row(code, available))
      assert.equal(stored.length, landed, `seed ${seed}`)
      assert.ok(stored.length <= available)
    }
  })

  it('refuses unknown and disabled codes', async () => {
    assert.throws(() => store.claimUseOps('nope', did(1)), { name: 'InvalidInviteCode' })
    await store.create([row('c-off', 5)])
    assert.equal(await store.disable({ codes: ['c-off'], accounts: [] }), 1)
    assert.throws(() => store.claimUseOps('c-off', did(1)), { name: 'InvalidInviteCode' })
  })
})

describe('invite-required PDS', () => {
  let plc: TestPlc
  let pds: TestPds
  const signup = (handle: string, inviteCode?: string) =>
    xrpc(pds.publicUrl, 'com.atproto.server.createAccount', { body: { handle, password: 'pw-long-enough', ...(inviteCode === undefined ? {} : { inviteCode }) } })
  const createCodes = (body: Record<string, unknown>) => xrpc(pds.publicUrl, 'com.atproto.server.createInviteCodes', { auth: ADMIN, body })
  const oneCode = async (useCount: number, forAccount?: string): Promise<string> => {
    const res = await xrpc(pds.publicUrl, 'com.atproto.server.createInviteCode', { auth: ADMIN, body: { useCount, ...(forAccount === undefined ? {} : { forAccount }) } })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body.code
  }

  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc, config: { inviteRequired: true, adminPassword: 'admin-secret' } })
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  it('refuses signups without, or with an unknown code; a good code is consumed', async () => {
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.server.describeServer')).body.inviteCodeRequired, true)
    for (const code of [undefined, '', 'localhost-aaaaa-bbbbb']) {
      const res = await signup('nobody.test', code)
      assert.equal(res.status, 400)
      assert.equal(res.body.error, 'InvalidInviteCode')
    }
    const code = await oneCode(1)
    assert.match(code, /^localhost-[a-z2-7]{5}-[a-z2-7]{5}$/)
    const ok = await signup('first.test', code)
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const again = await signup('second.test', code)
    assert.equal(again.body.error, 'InvalidInviteCode')
    assert.match(again.body.message, /not available/)
    const list = await xrpc(pds.publicUrl, 'com.atproto.admin.getInviteCodes', { auth: ADMIN })
    const listed = list.body.codes.find((c: { code: string }) => c.code === code)
    assert.deepEqual(listed.uses.map((u: { usedBy: string }) => u.usedBy), [ok.body.did])
    assert.equal(listed.available, 1)
    const info = await xrpc(pds.publicUrl, 'com.atproto.admin.getAccountInfo', { auth: ADMIN, params: { did: ok.body.did } })
    assert.equal(info.body.invitedBy.code, code)
  })

  it('concurrent signups never use a code more often than it allows', async () => {
    const code = await oneCode(2)
    const results = await Promise.all(['race-a', 'race-b', 'race-c', 'race-d'].map((h) => signup(`${h}.test`, code)))
    assert.equal(results.filter((r) => r.status === 200).length, 2)
    for (const r of results.filter((x) => x.status !== 200)) assert.equal(r.body.error, 'InvalidInviteCode')
    const list = await xrpc(pds.publicUrl, 'com.atproto.admin.getInviteCodes', { auth: ADMIN, params: { sort: 'usage' } })
    assert.equal(list.body.codes.find((c: { code: string }) => c.code === code).uses.length, 2)
  })

  it('disabled codes and codes of taken-down accounts are refused; users see their own codes', async () => {
    const owner = await signup('owner.test', await oneCode(1))
    const made = await createCodes({ codeCount: 2, useCount: 1, forAccounts: [owner.body.did] })
    assert.equal(made.status, 200)
    const [first, second] = made.body.codes[0].codes as string[]
    const mine = await xrpc(pds.publicUrl, 'com.atproto.server.getAccountInviteCodes', { token: owner.body.accessJwt })
    assert.deepEqual(mine.body.codes.map((c: { code: string }) => c.code).sort(), [first, second].sort())
    assert.equal((await signup('guest.test', first)).status, 200)
    const unused = await xrpc(pds.publicUrl, 'com.atproto.server.getAccountInviteCodes', { token: owner.body.accessJwt, params: { includeUsed: 'false' } })
    assert.deepEqual(unused.body.codes.map((c: { code: string }) => c.code), [second])
    const disabled = await oneCode(3)
    assert.equal((await xrpc(pds.publicUrl, 'com.atproto.admin.disableInviteCodes', { auth: ADMIN, body: { codes: [disabled] } })).status, 200)
    assert.equal((await signup('late.test', disabled)).body.error, 'InvalidInviteCode')
    const takedown = await xrpc(pds.publicUrl, 'com.atproto.admin.updateSubjectStatus', {
      auth: ADMIN,
      body: { subject: { $type: 'com.atproto.admin.defs#repoRef', did: owner.body.did }, takedown: { applied: true } },
    })
    assert.equal(takedown.status, 200)
    assert.equal((await signup('guest2.test', second)).body.error, 'InvalidInviteCode')
    const byAccount = await xrpc(pds.publicUrl, 'com.atproto.admin.disableInviteCodes', { auth: ADMIN, body: { accounts: ['admin'] } })
    assert.equal(byAccount.body.error, 'InvalidRequest')
  })

  it('admin methods need the admin password; limits by name; paging', async () => {
    const noAuth = await xrpc(pds.publicUrl, 'com.atproto.server.createInviteCode', { body: { useCount: 1 } })
    assert.deepEqual([noAuth.status, noAuth.body.error], [401, 'AuthMissing'])
    const bad = `Basic ${Buffer.from('admin:wrong').toString('base64')}`
    const wrong = await xrpc(pds.publicUrl, 'com.atproto.admin.getInviteCodes', { auth: bad })
    assert.deepEqual([wrong.status, wrong.body.error], [401, 'AuthenticationRequired'])
    for (const body of [
      { useCount: 0 },
      { useCount: PDS_INVITE_CODE_USES_MAX + 1 },
      { useCount: 1, codeCount: PDS_INVITE_CODES_PER_CALL_MAX + 1 },
      { useCount: 1, codeCount: PDS_INVITE_CODES_PER_CALL_MAX, forAccounts: ['did:plc:aaaaaaaaaaaaaaaaaaaaaaaa', 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'] },
    ]) {
      const res = await createCodes(body)
      assert.deepEqual([res.status, res.body.error], [400, 'InvalidRequest'], JSON.stringify(body))
    }
    assert.equal((await createCodes({ useCount: PDS_INVITE_CODE_USES_MAX, codeCount: 3 })).status, 200)
    const seen = new Set<string>()
    let cursor: string | undefined
    let lastCreated = '9999'
    for (let page = 0; page < 100; page++) {
      const res = await xrpc(pds.publicUrl, 'com.atproto.admin.getInviteCodes', { auth: ADMIN, params: { limit: '2', ...(cursor === undefined ? {} : { cursor }) } })
      for (const c of res.body.codes) {
        assert.equal(seen.has(c.code), false, 'no code twice')
        assert.ok(c.createdAt <= lastCreated, 'newest first')
        lastCreated = c.createdAt
        seen.add(c.code)
      }
      cursor = res.body.cursor
      if (cursor === undefined) break
    }
    const all = await xrpc(pds.publicUrl, 'com.atproto.admin.getInviteCodes', { auth: ADMIN, params: { limit: '500' } })
    assert.equal(seen.size, all.body.codes.length)
    const byUsage = await xrpc(pds.publicUrl, 'com.atproto.admin.getInviteCodes', { auth: ADMIN, params: { sort: 'usage', limit: '500' } })
    const counts = byUsage.body.codes.map((c: { uses: unknown[] }) => c.uses.length)
    assert.deepEqual(counts, [...counts].sort((a: number, b: number) => b - a))
  })

  it('atfed admin invites create / list / disable', async () => {
    const conn = ['--pds', pds.publicUrl]
    const env = { ATFED_ADMIN_PASSWORD: 'admin-secret' }
    const created = await atfed(['admin', 'invites', 'create', '--uses', '2', '--count', '2', ...conn], env)
    assert.equal(created.code, 0, created.stderr)
    const codes = created.stdout.trim().split('\n')
    assert.equal(codes.length, 2)
    for (const code of codes) assert.match(code, /^localhost-[a-z2-7]{5}-[a-z2-7]{5}$/)
    const account = await signup('clier.test', codes[0] as string)
    assert.equal(account.status, 200, JSON.stringify(account.body))
    const disabled = await atfed(['admin', 'invites', 'disable', codes[1] as string, ...conn, '--admin-password', 'admin-secret'])
    assert.equal(disabled.code, 0, disabled.stderr)
    const listed = await atfed(['admin', 'invites', 'list', '--limit', '3', ...conn], env)
    assert.equal(listed.code, 0, listed.stderr)
    const rows = listed.stdout.trim().split('\n').map((line) => JSON.parse(line) as { code: string; disabled: boolean; uses: unknown[] })
    const byCode = new Map(rows.map((r) => [r.code, r]))
    assert.equal(byCode.get(codes[0] as string)?.uses.length, 1)
    assert.equal(byCode.get(codes[1] as string)?.disabled, true)
    const noPassword = await atfed(['admin', 'invites', 'list', ...conn], { ATFED_ADMIN_PASSWORD: '' })
    assert.equal(noPassword.code, 1)
    assert.match(noPassword.stderr, /InvalidArgument: /)
    const wrong = await atfed(['admin', 'invites', 'list', ...conn, '--admin-password', 'nope'])
    assert.equal(wrong.code, 1)
    assert.match(wrong.stderr, /AuthenticationRequired: /)
    assert.doesNotMatch(wrong.stderr, /\n\s+at /, 'no stack trace')
  })
})
