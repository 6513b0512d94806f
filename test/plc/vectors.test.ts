/**
 * did:plc audit-log vectors (test/plc/vectors/, from did-method-plc
 * interop_tests): valid logs replay with the same CIDs and nullified flags;
 * each invalid log is refused by the rule it breaks. Plus one legacy
 * `create` genesis op from the live directory.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Did } from '../../core/syntax/did.ts'
import { verifyOpSignature } from '../../did-resolver/plc/op-builder.ts'
import { cidForOp, didForGenesis, parsePlcOp, plcStateOf } from '../../did-resolver/plc/operation.ts'
import { validateAuditLog, type LogEntry } from '../../did-resolver/plc/validate.ts'

const DIR = join(import.meta.dirname, 'vectors')

type RawEntry = { did: string; operation: unknown; cid: string; nullified: boolean; createdAt: string }

function load(kind: 'valid' | 'invalid', file: string): LogEntry[] {
  const raw = JSON.parse(readFileSync(join(DIR, kind, file), 'utf8')) as RawEntry[]
  return raw.map((e) => ({
    did: e.did as Did,
    operation: parsePlcOp(e.operation, { allowLegacy: true }),
    cid: e.cid,
    nullified: e.nullified,
    createdAt: Date.parse(e.createdAt),
  }))
}

const files = (kind: string) => readdirSync(join(DIR, kind)).filter((f) => f.endsWith('.json')).sort()

test('valid audit logs replay exactly (CIDs, genesis DID, nullified flags)', () => {
  assert.ok(files('valid').length >= 8)
  for (const file of files('valid')) {
    const log = load('valid', file)
    const first = log[0]!
    for (const e of log) assert.equal(cidForOp(e.operation).toString(), e.cid, file)
    assert.notEqual(first.operation.type, 'plc_tombstone')
    if (first.operation.type !== 'plc_tombstone') assert.equal(didForGenesis(first.operation), first.did, file)
    const replay = validateAuditLog(first.did, log)
    assert.deepEqual(replay.map((e) => e.nullified), log.map((e) => e.nullified), file)
  }
})

const EXPECTED: Record<string, string> = {
  'log_invalid_nullification_reused_key.json': 'InvalidSignature',
  'log_invalid_nullification_too_slow.json': 'LateRecovery',
  'log_invalid_sig_b64_newline.json': 'InvalidSignature',
  'log_invalid_sig_b64_padding_bits.json': 'InvalidSignature',
  'log_invalid_sig_b64_padding_chars.json': 'InvalidSignature',
  'log_invalid_sig_der.json': 'InvalidSignature',
  'log_invalid_sig_k256_high_s.json': 'InvalidSignature',
  'log_invalid_sig_p256_high_s.json': 'InvalidSignature',
  'log_invalid_update_nullified.json': 'MisorderedOperation',
  'log_invalid_update_tombstoned.json': 'MisorderedOperation',
}

test('invalid audit logs are refused by the rule they break', () => {
  assert.deepEqual(files('invalid'), Object.keys(EXPECTED).sort())
  for (const file of files('invalid')) {
    const log = load('invalid', file)
    for (const e of log) assert.equal(cidForOp(e.operation).toString(), e.cid, file)
    assert.throws(() => validateAuditLog(log[0]!.did, log), { name: EXPECTED[file] }, file)
  }
})

test('a log whose nullified flags disagree with the rules is InvalidAuditLog', () => {
  const log = load('valid', 'log_nullification.json')
  const lying = log.map((e) => ({ ...e, nullified: false }))
  assert.throws(() => validateAuditLog(log[0]!.did, lying), { name: 'InvalidAuditLog' })
  const reordered = [log[0]!, { ...log[1]!, createdAt: 5_000 }, log[2]!]
  assert.throws(() => validateAuditLog(log[0]!.did, reordered), { name: 'InvalidAuditLog' })
})

test('legacy create genesis (did:plc:oky5czdrnfjpqslsw2a5iclo) derives its DID and verifies', () => {
  const op = parsePlcOp(
    {
      sig: 'KuN3A61golVNSDU71wZKLP9lVuXk6YekJAz1lwDzrPsNTEWHBBW_8zSyV6pDxV4KiYXuAXlS1Ik47XkjQZ94mA',
      prev: null,
      type: 'create',
      handle: 'jay.bsky.social',
      service: 'https://bsky.social',
      signingKey: 'did:key:zQ3shP5TBe1sQfSttXty15FAEHV1DZgcxRZNxvEWnPfLFwLxJ',
      recoveryKey: 'did:key:zQ3shhCGUqDKjStzuDxPkTxN6ujddP4RkEKJJouJGRRkaLGbg',
    },
    { allowLegacy: true },
  )
  assert.equal(op.type, 'create')
  if (op.type !== 'create') return
  assert.equal(cidForOp(op).toString(), 'bafyreidswhiwi4ljkl4es4vwqhkas3spmmktortqbp6lkrb5v7qqdfr3mm')
  assert.equal(didForGenesis(op), 'did:plc:oky5czdrnfjpqslsw2a5iclo')
  const state = plcStateOf(op)
  assert.deepEqual(state.alsoKnownAs, ['at://jay.bsky.social'])
  assert.deepEqual(state.rotationKeys, [op.recoveryKey, op.signingKey])
  assert.notEqual(verifyOpSignature(op, state.rotationKeys), null)
  assert.throws(() => parsePlcOp({ ...op }), { name: 'InvalidOperation' })
})
