/**
 * The atproto interop data-model vectors (shared/interop/data-model):
 * fixtures JSON -> CBOR bytes and CID exactly, and back; every valid case
 * accepted; every invalid case rejected as `InvalidDataModel`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeCbor, encodeCbor } from '../../core/data/cbor.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { assertDataModel, jsonToLex, lexToJson, validateLexValue } from '../../core/data/json.ts'
import { interopPath } from '../helpers/vectors.ts'

const VECTORS_DIR = interopPath('data-model/')
const load = <T>(name: string): T => JSON.parse(readFileSync(VECTORS_DIR + name, 'utf8')) as T

type Fixture = { json: unknown; cbor_base64: string; cid: string }
type Case = { note: string; json: unknown }

const fixtures = load<Fixture[]>('data-model-fixtures.json')
const valid = load<Case[]>('data-model-valid.json')
const invalid = load<Case[]>('data-model-invalid.json')

const base64 = (b: Uint8Array): string => Buffer.from(b).toString('base64').replace(/=+$/, '')

test('vector files are all there', () => {
  assert.equal(fixtures.length, 3)
  assert.equal(valid.length, 5)
  assert.equal(invalid.length, 12)
})

test('fixtures: JSON -> DAG-CBOR bytes and CID exactly', () => {
  for (const [i, f] of fixtures.entries()) {
    const bytes = encodeCbor(jsonToLex(f.json))
    assert.equal(base64(bytes), f.cbor_base64, `fixture ${i}: bytes`)
    assert.equal(cidForCbor(bytes).toString(), f.cid, `fixture ${i}: CID`)
  }
})

test('fixtures: CBOR -> JSON gives back the JSON, and re-encodes to the same bytes', () => {
  for (const [i, f] of fixtures.entries()) {
    const bytes = new Uint8Array(Buffer.from(f.cbor_base64, 'base64'))
    const lex = decodeCbor(bytes)
    assert.deepEqual(lexToJson(lex), f.json, `fixture ${i}: JSON`)
    assert.deepEqual(lex, jsonToLex(f.json), `fixture ${i}: lex`)
    assert.equal(base64(encodeCbor(lex)), f.cbor_base64, `fixture ${i}: re-encode`)
    validateLexValue(lex)
  }
})

test('valid cases are accepted (JSON form and lex form)', () => {
  for (const c of valid) {
    const lex = assertDataModel(c.json)
    validateLexValue(lex)
    assert.deepEqual(decodeCbor(encodeCbor(lex)), lex, c.note)
  }
})

test('invalid cases are rejected as InvalidDataModel, for the rule the note names', () => {
  // Messages are not API; these loose patterns only check the right rule fired.
  const why: Record<string, RegExp> = {
    'top-level not an object': /top level/,
    float: /not an integer/,
    'record with $type null': /\$type/,
    'record with $type wrong type': /\$type/,
    'record with empty $type string': /\$type/,
    'blob with string size': /blob.*size/,
    'blob with missing key': /blob/,
    'bytes with wrong field type': /\$bytes/,
    'bytes with extra fields': /\$bytes.*other keys/,
    'link with wrong field type': /\$link/,
    'link with bogus CID': /\$link.*CID/,
    'link with extra fields': /\$link.*other keys/,
  }
  for (const c of invalid) {
    assert.ok(why[c.note], `no expectation for ${c.note}`)
    assert.throws(() => assertDataModel(c.json), { name: 'InvalidDataModel', message: why[c.note] }, c.note)
  }
})

test('invalid cases are also rejected when checked as in-memory values', () => {
  // A bare string is a fine lex value; only the record-level check rejects it.
  for (const c of invalid.filter((c) => c.note !== 'top-level not an object')) {
    assert.throws(() => validateLexValue(c.json), { name: 'InvalidDataModel' }, c.note)
  }
})
