/**
 * XRPC validation against the upstream lexicons: query-string params
 * (coercion, defaults, arrays, required, limits) and JSON input/output
 * bodies (defaults filled in, closed unions, error names).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadLexiconDir } from '../../core/lexicon/registry.ts'
import { validateInput, validateOutput, validateParams } from '../../core/lexicon/validate.ts'
import { cidForCbor } from '../../core/data/cid.ts'
import { LEXICONS_DIR } from '../helpers/vectors.ts'

const registry = await loadLexiconDir(LEXICONS_DIR)
const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const CID_STR = cidForCbor(new Uint8Array([9])).toString()

function invalidRequest(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: Error) => {
    assert.equal(err.name, 'InvalidRequest')
    assert.equal(err.message, message)
    return true
  })
}

test('params: coercion and defaults', () => {
  const nsid = 'app.bsky.feed.getAuthorFeed'
  assert.deepEqual(validateParams(registry, nsid, { actor: 'alice.test' }), {
    actor: 'alice.test', limit: 50, filter: 'posts_with_replies', includePins: false,
  })
  assert.deepEqual(
    validateParams(registry, nsid, new URLSearchParams('actor=Alice.Test&limit=7&includePins=true&cursor=abc&junk=1')),
    { actor: 'Alice.Test', limit: 7, cursor: 'abc', filter: 'posts_with_replies', includePins: true },
  )
  assert.deepEqual(validateParams(registry, 'com.atproto.repo.listRecords', { repo: DID, collection: 'app.bsky.feed.post', reverse: 'false' }),
    { repo: DID, collection: 'app.bsky.feed.post', limit: 50, reverse: false })
  // knownValues is open
  assert.equal(validateParams(registry, nsid, { actor: DID, filter: 'posts_someday' })['filter'], 'posts_someday')
})

test('params: arrays from repeated keys', () => {
  const nsid = 'com.atproto.sync.getBlocks'
  assert.deepEqual(validateParams(registry, nsid, new URLSearchParams(`did=${DID}&cids=${CID_STR}&cids=${CID_STR}`)),
    { did: DID, cids: [CID_STR, CID_STR] })
  assert.deepEqual(validateParams(registry, nsid, { did: DID, cids: CID_STR }), { did: DID, cids: [CID_STR] })
  invalidRequest(() => validateParams(registry, nsid, { did: DID, cids: [CID_STR, 'nope'] }), 'Params/cids/1 must be a valid cid')
  invalidRequest(() => validateParams(registry, nsid, { did: DID }), 'Params/cids is required')
  invalidRequest(() => validateParams(registry, nsid, { did: DID, cids: [] }), 'Params/cids is required')
})

test('params: bad values are InvalidRequest naming the param', () => {
  const nsid = 'app.bsky.feed.getAuthorFeed'
  const cases: Array<[RawCase, string]> = [
    [{}, 'Params/actor is required'],
    [{ actor: 'not a handle' }, 'Params/actor must be a valid at-identifier'],
    [{ actor: DID, limit: '0' }, 'Params/limit must not be less than 1'],
    [{ actor: DID, limit: '101' }, 'Params/limit must not be greater than 100'],
    [{ actor: DID, limit: '' }, 'Params/limit must be an integer'],
    [{ actor: DID, limit: '1.5' }, 'Params/limit must be an integer'],
    [{ actor: DID, limit: '1e2' }, 'Params/limit must be an integer'],
    [{ actor: DID, limit: ' 5' }, 'Params/limit must be an integer'],
    [{ actor: DID, limit: '99999999999999999999' }, 'Params/limit must be an integer'],
    [{ actor: DID, includePins: 'yes' }, 'Params/includePins must be "true" or "false"'],
    [{ actor: DID, includePins: 'TRUE' }, 'Params/includePins must be "true" or "false"'],
    [{ actor: [DID, DID] }, 'Params/actor must be given once'],
  ]
  for (const [params, message] of cases) invalidRequest(() => validateParams(registry, nsid, params), message)
  assert.throws(() => validateParams(registry, 'com.example.nope', {}), { name: 'LexiconNotFound' })
  // a method without params: nothing comes back, nothing is required
  assert.deepEqual(validateParams(registry, 'com.atproto.server.describeServer', { x: '1' }), {})
})
type RawCase = { [name: string]: string | string[] }

test('input: defaults filled in, errors name the path, the input object is not mutated', () => {
  const input = { useCount: 3 }
  assert.deepEqual(validateInput(registry, 'com.atproto.server.createInviteCodes', input), { useCount: 3, codeCount: 1 })
  assert.deepEqual(input, { useCount: 3 })
  invalidRequest(() => validateInput(registry, 'com.atproto.server.createInviteCodes', { codeCount: 2 }), 'Input/useCount is required')
  invalidRequest(() => validateInput(registry, 'com.atproto.server.createInviteCodes', { useCount: 1, forAccounts: ['x'] }),
    'Input/forAccounts/0 must be a valid did')

  const create = { repo: DID, collection: 'app.bsky.feed.post', record: { $type: 'app.bsky.feed.post', text: 'hi' } }
  assert.equal(validateInput(registry, 'com.atproto.repo.createRecord', create), create)
  invalidRequest(() => validateInput(registry, 'com.atproto.repo.createRecord', { ...create, record: 'text' }), 'Input/record must be an object')
  invalidRequest(() => validateInput(registry, 'com.atproto.repo.createRecord', { ...create, collection: 'post' }),
    'Input/collection must be a valid nsid')
  invalidRequest(() => validateInput(registry, 'com.atproto.repo.createRecord', null), 'Input must be an object')

  const writes = (w: object) => ({ repo: DID, writes: [w] })
  validateInput(registry, 'com.atproto.repo.applyWrites',
    writes({ $type: 'com.atproto.repo.applyWrites#delete', collection: 'app.bsky.feed.post', rkey: '3kznmn7xqxl22' }))
  invalidRequest(() => validateInput(registry, 'com.atproto.repo.applyWrites', writes({ $type: 'com.example.write', collection: 'a.b.c' })),
    'Input/writes/0/$type must be one of (com.atproto.repo.applyWrites#create|com.atproto.repo.applyWrites#update|com.atproto.repo.applyWrites#delete)')
  invalidRequest(() => validateInput(registry, 'com.atproto.repo.applyWrites', writes({ $type: 'com.atproto.repo.applyWrites#delete', rkey: 'x' })),
    'Input/writes/0/collection is required')

  // a procedure without a JSON schema (uploadBlob) passes its body through
  const bytes = new Uint8Array([1, 2])
  assert.equal(validateInput(registry, 'com.atproto.repo.uploadBlob', bytes), bytes)
  assert.throws(() => validateInput(registry, 'com.atproto.sync.getBlocks', {}), { name: 'LexiconNotFound' })
})

test('output: InvalidResponse naming the path', () => {
  const ok = { uri: `at://${DID}/app.bsky.feed.post/3kznmn7xqxl22`, cid: CID_STR, validationStatus: 'valid' }
  assert.equal(validateOutput(registry, 'com.atproto.repo.createRecord', ok), ok)
  assert.throws(() => validateOutput(registry, 'com.atproto.repo.createRecord', { ...ok, uri: 'https://x' }),
    { name: 'InvalidResponse', message: 'Output/uri must be a valid at-uri' })
  assert.throws(() => validateOutput(registry, 'com.atproto.repo.createRecord', { ...ok, commit: { cid: CID_STR } }),
    { name: 'InvalidResponse', message: 'Output/commit/rev is required' })
  // describeServer output has a ref'd object
  validateOutput(registry, 'com.atproto.server.describeServer', { did: 'did:web:pds.test', availableUserDomains: ['.test'] })
  assert.throws(() => validateOutput(registry, 'com.atproto.server.describeServer', { did: 'did:web:pds.test' }),
    { name: 'InvalidResponse', message: 'Output/availableUserDomains is required' })
})
