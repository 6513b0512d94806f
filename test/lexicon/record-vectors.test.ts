/**
 * test/vectors/interop/lexicon record-data vectors against catalog/record.json:
 * the 3 valid records pass (record key included), every one of the 50
 * invalid ones fails with `InvalidRecord`, and each still fails for its own
 * reason once the unrelated missing `integer` field is supplied.
 *
 * JSON goes through our `jsonToLex` (core/data/json.ts). That converter
 * refuses blob refs whose CID is not raw-codec, but four vectors (one of
 * them valid) carry dag-cbor blob refs; for those only, the test converts
 * with @atproto/lexicon's `jsonToLex` (an oracle) and maps its BlobRef class
 * back to our plain blob shape, so the lexicon rules are still exercised.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BlobRef, jsonToLex as oracleJsonToLex } from '@atproto/lexicon'
import { jsonToLex } from '../../core/data/json.ts'
import { loadLexiconDir } from '../../core/lexicon/registry.ts'
import { validateRecord, validateRecordKey } from '../../core/lexicon/validate.ts'
import { interopPath } from '../helpers/vectors.ts'

const DIR = interopPath('lexicon')
const registry = await loadLexiconDir(join(DIR, 'catalog'), { checkRefs: false })
type Case = { name: string; rkey: string; data: { $type: string; [key: string]: unknown } }
const readCases = (file: string): Case[] => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Case[]

const oracleConverted: string[] = []

function toLex(c: Case): { [key: string]: unknown } {
  try {
    return jsonToLex(c.data) as { [key: string]: unknown }
  } catch (err) {
    assert.equal((err as Error).name, 'InvalidDataModel')
    assert.match((err as Error).message, /raw-codec/, `${c.name}: jsonToLex rejects for another reason`)
    oracleConverted.push(c.name)
    return unBlobRef(oracleJsonToLex(c.data as never)) as { [key: string]: unknown }
  }
}

function unBlobRef(value: unknown): unknown {
  if (value instanceof BlobRef) return { $type: 'blob', ref: value.ref, mimeType: value.mimeType, size: value.size }
  if (Array.isArray(value)) return value.map(unBlobRef)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unBlobRef(v)]))
  }
  return value
}

test('record-data-valid.json: every record validates, with its record key', () => {
  const cases = readCases('record-data-valid.json')
  assert.equal(cases.length, 3)
  for (const c of cases) {
    validateRecordKey(registry, c.data.$type, c.rkey)
    assert.doesNotThrow(() => validateRecord(registry, c.data.$type, toLex(c)), c.name)
  }
})

test('record-data-invalid.json: all 50 records are rejected with InvalidRecord', () => {
  const cases = readCases('record-data-invalid.json')
  assert.equal(cases.length, 50)
  for (const c of cases) {
    validateRecordKey(registry, c.data.$type, c.rkey)
    assert.throws(() => validateRecord(registry, c.data.$type, toLex(c)), { name: 'InvalidRecord' }, c.name)
  }
})

test('record-data-invalid.json: each still fails for its own reason when `integer` is present', () => {
  // Three "unknown wrong type" cases also lack the required `integer`; supplying it
  // must not make any case pass, and the error must then name the mutated field.
  for (const c of readCases('record-data-invalid.json')) {
    if (c.name === 'missing required field') continue
    const data = { ...c.data, integer: c.data['integer'] ?? 1 }
    const fields = Object.keys(c.data).filter((k) => k !== '$type' && k !== 'integer')
    const expected = fields.length === 1 ? `Record/${fields[0]}` : 'Record/integer'
    assert.throws(() => validateRecord(registry, data.$type, toLex({ ...c, data })), (err: Error) => {
      assert.equal(err.name, 'InvalidRecord', c.name)
      assert.ok(err.message.startsWith(expected), `${c.name}: "${err.message}" should start with ${expected}`)
      return true
    }, c.name)
  }
})

test('the record key type of the catalog record is literal:demo', () => {
  assert.throws(() => validateRecordKey(registry, 'example.lexicon.record', 'other'), { name: 'InvalidRecord' })
})

test('only blob-codec cases needed the oracle converter', () => {
  const names = new Set(oracleConverted)
  for (const name of names) assert.match(name, /^(full|blob too large|blob wrong type|unknown wrong type \(blob\))$/)
})
