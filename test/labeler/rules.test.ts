/**
 * Rules files and the text matcher: accepted documents, every refusal as
 * `InvalidRules` (with the underlying error name as its cause), and the
 * matcher's bound — a catastrophic regex on a hostile text times out, the
 * worker is replaced, the texts queued behind it are still answered right,
 * and the queue is capped.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LABELER_RULES_MAX } from '../../core/limits.ts'
import { loadRulesFile, parseRules } from '../../feedgen/labeler/rules.ts'
import { TextMatcher } from '../../feedgen/labeler/text-matcher.ts'
import { tempDir } from '../helpers/plc.ts'

const BOT = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const OTHER = 'did:web:bots.example.com'

test('a rules document: text rules in order, account values merged per DID', () => {
  const rules = parseRules({
    rules: [
      { id: 'crypto', kind: 'text', pattern: 'free\\s+crypto', flags: 'i', val: 'spam' },
      { kind: 'account', dids: [BOT, OTHER], val: 'bot' },
      { kind: 'account', dids: [BOT], val: '!warn' },
      { kind: 'text', pattern: '#nsfw\\b', val: 'sexual' },
    ],
  })
  assert.deepEqual(rules.text.map((r) => [r.id, r.pattern, r.flags, r.val]), [
    ['crypto', 'free\\s+crypto', 'i', 'spam'],
    ['rules[3]', '#nsfw\\b', '', 'sexual'],
  ])
  assert.deepEqual(rules.accounts.get(BOT as never), ['bot', '!warn'])
  assert.deepEqual(rules.accounts.get(OTHER as never), ['bot'])
  assert.equal(parseRules({ rules: [] }).text.length, 0)
})

test('bad rules are InvalidRules naming the place, with the cause by name', () => {
  const cases: Array<[unknown, string | null]> = [
    [null, null],
    [{}, null],
    [{ rules: {} }, null],
    [{ rules: [{ kind: 'text', pattern: 'x', val: 'Spam Bot' }] }, 'InvalidLabelValue'],
    [{ rules: [{ kind: 'text', pattern: 'x', val: '!nuke' }] }, 'InvalidLabelValue'],
    [{ rules: [{ kind: 'text', pattern: 'x' }] }, 'InvalidLabelValue'],
    [{ rules: [{ kind: 'account', dids: ['alice.example.com'], val: 'bot' }] }, 'InvalidDid'],
    [{ rules: [{ kind: 'account', dids: [], val: 'bot' }] }, null],
    [{ rules: [{ kind: 'text', pattern: '(unclosed', val: 'x' }] }, null],
    [{ rules: [{ kind: 'text', pattern: '', val: 'x' }] }, null],
    [{ rules: [{ kind: 'text', pattern: 'a'.repeat(513), val: 'x' }] }, null],
    [{ rules: [{ kind: 'text', pattern: 'x', flags: 'g', val: 'x' }] }, null],
    [{ rules: [{ kind: 'text', pattern: 'x', flags: 'ii', val: 'x' }] }, null],
    [{ rules: [{ kind: 'regex', pattern: 'x', val: 'x' }] }, null],
    [{ rules: [{ kind: 'text', pattern: 'x', val: 'x', extra: 1 }] }, null],
    [{ rules: [{ kind: 'text', pattern: 'x', val: 'x', id: '' }] }, null],
    [{ rules: Array.from({ length: LABELER_RULES_MAX + 1 }, () => ({ kind: 'text', pattern: 'x', val: 'x' })) }, null],
  ]
  for (const [doc, cause] of cases) {
    let caught: (Error & { cause?: unknown }) | null = null
    try {
      parseRules(doc)
    } catch (err) {
      caught = err as Error
    }
    assert.equal(caught?.name, 'InvalidRules', JSON.stringify(doc)?.slice(0, 80))
    if (cause !== null) assert.equal((caught?.cause as Error | undefined)?.name, cause)
  }
  // At the limit: fine.
  parseRules({ rules: Array.from({ length: LABELER_RULES_MAX }, () => ({ kind: 'text', pattern: 'a'.repeat(512), val: 'x' })) })
})

test('rules files: read and checked; missing, non-JSON and oversized files are InvalidRules', () => {
  const dir = tempDir('atfed-rules-')
  try {
    const good = join(dir.path, 'rules.json')
    writeFileSync(good, JSON.stringify({ rules: [{ kind: 'text', pattern: 'spam', val: 'spam' }] }))
    assert.equal(loadRulesFile(good).text.length, 1)
    const notJson = join(dir.path, 'bad.json')
    writeFileSync(notJson, '{rules: [')
    const huge = join(dir.path, 'huge.json')
    writeFileSync(huge, JSON.stringify({ rules: [], pad: 'x'.repeat(1_000_001) }))
    for (const path of [join(dir.path, 'missing.json'), notJson, huge]) assert.throws(() => loadRulesFile(path), { name: 'InvalidRules' })
  } finally {
    dir.remove()
  }
})

test('the matcher answers which rules match each text', async () => {
  const matcher = new TextMatcher([
    { pattern: 'free\\s+crypto', flags: 'i' },
    { pattern: '^gm$', flags: 'm' },
    { pattern: 'caf\u00e9', flags: 'iu' },
  ])
  try {
    assert.deepEqual(await matcher.match('Get FREE   crypto'), [0])
    assert.deepEqual(await matcher.match('hello\ngm\nCAFÉ'), [1, 2])
    assert.deepEqual(await matcher.match('nothing here'), [])
    assert.deepEqual(await matcher.match(''), [])
    assert.equal(matcher.stats().timeouts, 0)
  } finally {
    await matcher.close()
  }
})

test('a catastrophic regex on a hostile text times out; the worker is replaced and the queue behind it is answered', async () => {
  const matcher = new TextMatcher([{ pattern: '(a+)+$', flags: '' }, { pattern: 'ok', flags: '' }], { timeoutMs: 150 })
  try {
    await matcher.match('warm up')
    const started = Date.now()
    const hostile = 'a'.repeat(40) + '!'
    const results = await Promise.all([matcher.match('ok before'), matcher.match(hostile), matcher.match('ok after'), matcher.match('aaa')])
    assert.deepEqual(results, [[1], 'timeout', [1], [0]])
    assert.ok(Date.now() - started < 5_000)
    assert.deepEqual({ ...matcher.stats(), texts: 0 }, { texts: 0, timeouts: 1, restarts: 1 })
  } finally {
    await matcher.close()
  }
})

test('a stalled main thread does not turn a fast match into a timeout (the deadline is the worker time)', async () => {
  const matcher = new TextMatcher([{ pattern: 'spam', flags: 'i' }], { timeoutMs: 50 })
  try {
    await matcher.match('warm up')
    const answer = matcher.match('SPAM')
    const until = Date.now() + 300
    while (Date.now() < until) {
      // busy: the timer and the worker's answer both wait for this loop
    }
    assert.deepEqual(await answer, [0])
    assert.equal(matcher.stats().timeouts, 0)
  } finally {
    await matcher.close()
  }
})

test('the matcher queue is bounded (RuleQueueFull); close answers what waits', async () => {
  const matcher = new TextMatcher([{ pattern: '(a+)+$', flags: '' }], { timeoutMs: 10_000, queueMax: 3 })
  const hostile = 'a'.repeat(40) + '!'
  const waiting = [matcher.match(hostile), matcher.match('b'), matcher.match('c')]
  await assert.rejects(matcher.match('d'), { name: 'RuleQueueFull' })
  await matcher.close()
  assert.deepEqual(await Promise.all(waiting), ['timeout', 'timeout', 'timeout'])
  await assert.rejects(matcher.match('e'), { name: 'MatcherClosed' })
})
