/**
 * `atfed labeler publish`: the app.bsky.labeler.service record built from
 * rules (values in rule order, definitions for custom values, global and
 * known values listed but not defined), refusals by name before any
 * request, and the record written to a real atfed PDS as the account's
 * `self` record: the PDS validates it, @atproto/lexicon's validator accepts
 * what getRecord returns, publishing again updates the one record, and the
 * command warns that the account's DID document names no labeler.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Lexicons } from '@atproto/lexicon'
import type { LexiconDoc } from '@atproto/lexicon'
import { labelerServiceRecord, publishLabelerService } from '../../feedgen/labeler/publish.ts'
import { parseRules } from '../../feedgen/labeler/rules.ts'
import { createTestAccount, startPlcForPds, startTestPds, xrpc } from '../helpers/pds.ts'
import type { TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'
import { tempDir } from '../helpers/plc.ts'
import { LEXICONS_DIR } from '../helpers/vectors.ts'

const ATFED = join(import.meta.dirname, '..', '..', 'bin', 'atfed.js')
const run = promisify(execFile)
const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'

const RULES = {
  rules: [
    { id: 'crypto', kind: 'text', pattern: 'free\\s+crypto', flags: 'i', val: 'spam' },
    { id: 'casino', kind: 'text', pattern: 'casino', val: 'gambling' },
    { id: 'more-spam', kind: 'text', pattern: 'cheap pills', val: 'spam' },
    { id: 'porn-words', kind: 'text', pattern: 'xxx', val: 'porn' },
    { id: 'bots', kind: 'account', dids: [DID], val: 'bot' },
    { id: 'hide', kind: 'account', dids: [DID], val: '!hide' },
  ],
  definitions: { gambling: { severity: 'alert', blurs: 'content', defaultSetting: 'hide', adultOnly: true, name: 'Gambling', description: 'Casino and betting promotion.' } },
}

const oracle = new Lexicons(
  readdirSync(LEXICONS_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(LEXICONS_DIR, f), 'utf8')) as LexiconDoc),
)

let plc: TestPlc
let pds: TestPds
let handle: string
let did: string

before(async () => {
  plc = await startPlcForPds()
  pds = await startTestPds({ plc })
  const account = await createTestAccount(pds.publicUrl, 'labeler.test', { password: 'labeler-password' })
  handle = account.handle
  did = account.did
})
after(async () => {
  await pds.stop()
  await plc.stop()
})

test('the record: rule values in order, custom values defined, known and ! values only listed', () => {
  const rules = parseRules(RULES)
  const record = labelerServiceRecord({ rules, values: ['manual-review', 'spam'], definitions: RULES.definitions, now: () => new Date('2025-01-02T03:04:05.000Z') })
  assert.deepEqual(record.policies.labelValues, ['spam', 'gambling', 'porn', 'bot', '!hide', 'manual-review'])
  assert.deepEqual(record.policies.labelValueDefinitions.map((d) => d.identifier), ['spam', 'gambling', 'manual-review'])
  const [spam, gambling, manual] = record.policies.labelValueDefinitions
  assert.deepEqual(spam, { identifier: 'spam', severity: 'inform', blurs: 'none', defaultSetting: 'warn', adultOnly: false, locales: [{ lang: 'en', name: 'spam', description: 'Applied by the rules crypto, more-spam.' }] })
  assert.deepEqual(gambling?.locales, [{ lang: 'en', name: 'Gambling', description: 'Casino and betting promotion.' }])
  assert.deepEqual([gambling?.severity, gambling?.blurs, gambling?.defaultSetting, gambling?.adultOnly], ['alert', 'content', 'hide', true])
  assert.equal(manual?.locales[0]?.description, 'Applied by the moderators of this labeler.')
  assert.equal(record.createdAt, '2025-01-02T03:04:05.000Z')
  oracle.assertValidRecord('app.bsky.labeler.service', record)
})

test('refusals are InvalidArgument before any request', async () => {
  const rules = parseRules(RULES)
  const base = { pds: 'http://127.0.0.1:9', identifier: 'h', password: 'p', rules }
  const cases: Array<Parameters<typeof labelerServiceRecord>[0]> = [
    { rules: parseRules({ rules: [] }) },
    { rules, values: ['Bad Value'] },
    { rules, values: ['v2'] }, // a digit: valid label value, but not definable
    { rules, values: ['x'.repeat(101)] },
    { rules, definitions: { unknown: {} } },
    { rules, definitions: { spam: { severity: 'loud' } } },
    { rules, definitions: { spam: { blurs: 'everything' } } },
    { rules, definitions: { spam: { defaultSetting: 'always' } } },
    { rules, definitions: { spam: { name: 'n'.repeat(65) } } },
  ]
  for (const input of cases) {
    assert.throws(() => labelerServiceRecord(input), { name: 'InvalidArgument' }, JSON.stringify(input.values ?? input.definitions ?? 'no values'))
    await assert.rejects(publishLabelerService({ ...base, ...input }), { name: 'InvalidArgument' })
  }
})

test('atfed labeler publish writes the record to a real PDS; it validates; publishing again updates it', { timeout: 30_000 }, async () => {
  const dir = tempDir('atfed-labeler-publish-')
  try {
    const rulesFile = join(dir.path, 'rules.json')
    writeFileSync(rulesFile, JSON.stringify(RULES))
    const args = ['labeler', 'publish', '--pds', pds.publicUrl, '--handle', handle, '--password', 'labeler-password', '--rules', rulesFile, '--value', 'manual-review']
    const out = await run(process.execPath, [ATFED, ...args, '--plc', plc.url, '--dev'])
    assert.equal(out.stdout, `at://${did}/app.bsky.labeler.service/self\n`)
    // A PDS account is no labeler yet: its DID document has no #atproto_label key or #atproto_labeler service.
    assert.match(out.stderr, new RegExp(`^atfed: warning: ${did} has no #atproto_label key and #atproto_labeler service`))

    const got = await xrpc(pds.publicUrl, 'com.atproto.repo.getRecord', { params: { repo: did, collection: 'app.bsky.labeler.service', rkey: 'self' } })
    assert.equal(got.status, 200, JSON.stringify(got.body))
    oracle.assertValidRecord('app.bsky.labeler.service', got.body.value)
    assert.deepEqual(got.body.value.policies.labelValues, ['spam', 'gambling', 'porn', 'bot', '!hide', 'manual-review'])

    const again = await publishLabelerService({ pds: pds.publicUrl, identifier: did, password: 'labeler-password', rules: parseRules(RULES), values: ['extra'] })
    assert.equal(again.validationStatus, 'valid')
    assert.equal(again.uri, `at://${did}/app.bsky.labeler.service/self`)
    assert.notEqual(again.cid, got.body.cid)
    const list = await xrpc(pds.publicUrl, 'com.atproto.repo.listRecords', { params: { repo: did, collection: 'app.bsky.labeler.service' } })
    assert.deepEqual(list.body.records.map((r: { uri: string }) => r.uri), [again.uri])
    assert.deepEqual(list.body.records[0].value.policies.labelValues.at(-1), 'extra')

    const denied = await run(process.execPath, [ATFED, ...args.slice(0, 6), '--password', 'wrong', '--rules', rulesFile]).catch((err: { code: number; stderr: string }) => err)
    assert.equal((denied as { code: number }).code, 1)
    assert.match((denied as { stderr: string }).stderr, /^atfed: AuthenticationRequired: /)
  } finally {
    dir.remove()
  }
})
