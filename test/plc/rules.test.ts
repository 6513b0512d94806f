/**
 * The directory's rules over HTTP, each refusal by name with a 400 and no
 * change to the log or the export; the recovery (nullification) flow end to
 * end; the 72 h window at and past its edge; per-DID rate limits at their
 * edges. The server's clock is driven by hand.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { PLC_OPS_PER_DAY_MAX, PLC_OPS_PER_HOUR_MAX, PLC_RECOVERY_WINDOW_MS } from '../../core/limits.ts'
import { createGenesisOp, createTombstone, createUpdateOp, signOp } from '../../did-resolver/plc/op-builder.ts'
import { cidForOp, type PlcOperation } from '../../did-resolver/plc/operation.ts'
import { getJson, postOp, startTestPlc, type TestPlc } from '../helpers/plc.ts'

let plc: TestPlc
const HOUR = 60 * 60 * 1000

before(async () => {
  plc = await startTestPlc()
})
after(async () => {
  await plc.stop()
})

const recovery = generateKeypair('p256') // user-held, highest priority
const pdsKey = generateKeypair('k256') // the PDS's rotation key
const attacker = generateKeypair('k256')

function account(handle: string) {
  return createGenesisOp({
    signingKey: generateKeypair('k256').publicKey.didKey,
    rotationKeys: [recovery.publicKey.didKey, pdsKey.publicKey.didKey],
    handle,
    pds: 'https://pds.example.com',
    signer: pdsKey,
  })
}

async function snapshot(did: string) {
  const audit = await getJson(`${plc.url}/${did}/log/audit`)
  const exported = await (await fetch(`${plc.url}/export?after=0`)).text()
  return { audit, exported }
}

async function expectRefused(did: string, op: unknown, name: string) {
  const before = await snapshot(did)
  const res = await postOp(plc.url, did, op)
  assert.equal(res.status, 400, name)
  const body = res.body as { error: string; message: string }
  assert.equal(body.error, name, body.message)
  assert.equal(typeof body.message, 'string')
  assert.deepEqual(await snapshot(did), before, `${name}: nothing changed`)
}

async function accept(did: string, op: unknown) {
  const res = await postOp(plc.url, did, op)
  assert.equal(res.status, 200, JSON.stringify(res.body))
}

test('forged, misdirected, replayed and malformed ops are refused by name, changing nothing', { timeout: 60_000 }, async () => {
  const g = account('victim.test')
  await expectRefused(g.did, { ...g.op, sig: g.op.sig.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) }, 'InvalidSignature')
  const other = account('other.test')
  await expectRefused(g.did, other.op, 'GenesisHashMismatch')
  const notRotation = createGenesisOp({
    signingKey: pdsKey.publicKey.didKey,
    rotationKeys: [attacker.publicKey.didKey],
    handle: 'x.test',
    pds: 'https://x.test',
    signer: attacker,
  })
  await expectRefused(g.did, notRotation.op, 'GenesisHashMismatch')
  await expectRefused(g.did, createTombstone(g.op, { signer: pdsKey }).op, 'MisorderedOperation')
  await accept(g.did, g.op)
  await expectRefused(g.did, g.op, 'DuplicateOperation')
  // Signed by a key that is not a rotation key of prev.
  const { sig: _sig, ...unsigned } = createUpdateOp(g.op, { signer: pdsKey, handle: 'evil.test' }).op
  await expectRefused(g.did, signOp(unsigned, attacker), 'InvalidSignature')
  await expectRefused(g.did, signOp(unsigned, generateKeypair('k256')), 'InvalidSignature')
  // Wrong prev: unknown CID, and null on an existing DID.
  await expectRefused(g.did, { ...createUpdateOp(other.op, { signer: pdsKey, handle: 'y.test' }).op }, 'MisorderedOperation')
  await expectRefused(g.did, signOp({ ...unsigned, prev: null }, pdsKey), 'MisorderedOperation')
  // A good update, then its replay.
  const u = createUpdateOp(g.op, { signer: pdsKey, handle: 'victim2.test' })
  await accept(g.did, u.op)
  await expectRefused(g.did, u.op, 'DuplicateOperation')
  // Shape and limits.
  const tooManyKeys = Array.from({ length: 11 }, () => generateKeypair('k256').publicKey.didKey)
  await expectRefused(g.did, { ...u.op, rotationKeys: tooManyKeys }, 'LimitExceeded')
  await expectRefused(g.did, { ...u.op, extra: true }, 'InvalidOperation')
  const big = { ...u.op, services: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`s${i}`, { type: 't', endpoint: 'e'.repeat(500) }])) }
  await expectRefused(g.did, big, 'OperationTooLarge')
  await expectRefused(g.did, { ...u.op, sig: `${u.op.sig}==` }, 'InvalidSignature')
})

test('recovery: the user key nullifies a malicious PDS-key update within 72 h', { timeout: 60_000 }, async () => {
  const g = account('recover.test')
  await accept(g.did, g.op)
  plc.clock.advance(HOUR)
  // The PDS key is compromised: it hands the DID to the attacker...
  const evil = createUpdateOp(g.op, { signer: pdsKey, rotationKeys: [attacker.publicKey.didKey], handle: 'stolen.test' })
  await accept(g.did, evil.op)
  const evil2 = createUpdateOp(evil.op, { signer: attacker, pds: 'https://evil.example.com' })
  await accept(g.did, evil2.op)
  // ...the PDS key cannot undo it (same priority as the key that signed the disputed op)...
  const pdsFix = createUpdateOp(g.op, { signer: pdsKey, handle: 'recover.test' })
  await expectRefused(g.did, pdsFix.op, 'InvalidSignature')
  // ...but the user's recovery key, higher in the genesis rotation keys, can: fork from genesis.
  plc.clock.advance(PLC_RECOVERY_WINDOW_MS - HOUR - 1)
  const fix = createUpdateOp(g.op, { signer: recovery, rotationKeys: [recovery.publicKey.didKey], handle: 'recovered.test' })
  await accept(g.did, fix.op)
  const audit = (await getJson(`${plc.url}/${g.did}/log/audit`)).body as { cid: string; nullified: boolean }[]
  assert.deepEqual(
    audit.map((e) => [e.cid, e.nullified]),
    [
      [g.cid.toString(), false],
      [evil.cid.toString(), true],
      [evil2.cid.toString(), true],
      [fix.cid.toString(), false],
    ],
  )
  const log = (await getJson(`${plc.url}/${g.did}/log`)).body as PlcOperation[]
  assert.deepEqual(log.map((op) => cidForOp(op).toString()), [g.cid.toString(), fix.cid.toString()])
  const doc = (await getJson(`${plc.url}/${g.did}`)).body as { alsoKnownAs: string[]; service: { serviceEndpoint: string }[] }
  assert.deepEqual(doc.alsoKnownAs, ['at://recovered.test'])
  assert.equal(doc.service[0]!.serviceEndpoint, 'https://pds.example.com')
  // The attacker cannot build on the nullified branch any more.
  await expectRefused(g.did, createUpdateOp(evil2.op, { signer: attacker, handle: 'again.test' }).op, 'MisorderedOperation')
})

test('recovery window: exactly 72 h is in time, 72 h + 1 ms is LateRecovery', { timeout: 60_000 }, async () => {
  for (const [lateMs, outcome] of [
    [0, 'accepted'],
    [1, 'LateRecovery'],
  ] as const) {
    const g = account(`window${lateMs}.test`)
    await accept(g.did, g.op)
    plc.clock.advance(HOUR)
    const evil = createUpdateOp(g.op, { signer: pdsKey, handle: `evil${lateMs}.test` })
    await accept(g.did, evil.op)
    const acceptedAt = Date.parse(((await getJson(`${plc.url}/${g.did}/log/audit`)).body as { createdAt: string }[])[1]!.createdAt)
    plc.clock.set(acceptedAt + PLC_RECOVERY_WINDOW_MS + lateMs)
    const fix = createUpdateOp(g.op, { signer: recovery, handle: `fixed${lateMs}.test` })
    if (outcome === 'accepted') await accept(g.did, fix.op)
    else await expectRefused(g.did, fix.op, 'LateRecovery')
  }
})

test('a tombstone by a lower-priority key can itself be nullified; a forked tombstone ends the DID', { timeout: 60_000 }, async () => {
  const g = account('tomb.test')
  await accept(g.did, g.op)
  const tomb = createTombstone(g.op, { signer: pdsKey })
  await accept(g.did, tomb.op)
  assert.equal((await getJson(`${plc.url}/${g.did}`)).status, 410)
  const revive = createUpdateOp(g.op, { signer: recovery, handle: 'alive.test' })
  await accept(g.did, revive.op)
  assert.equal((await getJson(`${plc.url}/${g.did}`)).status, 200)
  const end = createTombstone(revive.op, { signer: recovery })
  await accept(g.did, end.op)
  await expectRefused(g.did, { ...createUpdateOp(revive.op, { signer: recovery, handle: 'z.test' }).op, prev: end.cid.toString() }, 'MisorderedOperation')
})

test('rate limits: 10 ops per hour and 30 per day, at the edge; recovery ops are exempt', { timeout: 60_000 }, async () => {
  const g = account('busy.test')
  await accept(g.did, g.op)
  const chain: PlcOperation[] = [g.op]
  let n = 0
  const next = () => createUpdateOp(chain.at(-1)!, { signer: pdsKey, handle: `busy${n++}.test` }).op
  for (let i = 1; i < PLC_OPS_PER_HOUR_MAX; i++) {
    chain.push(next())
    await accept(g.did, chain.at(-1))
  }
  await expectRefused(g.did, next(), 'RateLimitExceeded')
  // A recovery fork (nullifying the newest op) is never rate limited.
  const fork = createUpdateOp(chain.at(-2)!, { signer: recovery, handle: 'busy-recovery.test' })
  await accept(g.did, fork.op)
  chain.splice(-1, 1, fork.op)
  await expectRefused(g.did, next(), 'RateLimitExceeded')
  // The hour slides: each later hour takes ten more, until the day's budget is spent.
  let active = chain.length
  while (active < PLC_OPS_PER_DAY_MAX) {
    plc.clock.advance(HOUR + 60_000)
    for (let i = 0; i < PLC_OPS_PER_HOUR_MAX && active < PLC_OPS_PER_DAY_MAX; i++, active++) {
      chain.push(next())
      await accept(g.did, chain.at(-1))
    }
  }
  plc.clock.advance(HOUR + 60_000)
  const refused = await postOp(plc.url, g.did, next())
  assert.equal((refused.body as { error: string }).error, 'RateLimitExceeded')
  assert.match((refused.body as { message: string }).message, /day/)
  plc.clock.advance(24 * HOUR)
  await accept(g.did, next())
})
