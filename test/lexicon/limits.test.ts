/**
 * Every lexicon limit in core/limits.ts, tested at its edge by error name:
 * def name length, validation nesting depth, directory depth and file
 * count (LEXICON_DOC_BYTES_MAX is in schema.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  LEXICON_DEF_NAME_CHARS_MAX, LEXICON_DIR_DEPTH_MAX, LEXICON_DIR_FILES_MAX, LEXICON_VALIDATION_DEPTH_MAX,
} from '../../core/limits.ts'
import { parseLexiconDoc } from '../../core/lexicon/schema.ts'
import { LexiconRegistry, loadLexiconDir } from '../../core/lexicon/registry.ts'
import { validateInput, validateRecord } from '../../core/lexicon/validate.ts'

function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-lexlim-'))
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }))
}

test('LEXICON_DEF_NAME_CHARS_MAX', () => {
  const doc = (name: string) => ({ lexicon: 1, id: 'com.example.test', defs: { [name]: { type: 'token' } } })
  parseLexiconDoc(doc('a'.repeat(LEXICON_DEF_NAME_CHARS_MAX)))
  assert.throws(() => parseLexiconDoc(doc('a'.repeat(LEXICON_DEF_NAME_CHARS_MAX + 1))), { name: 'InvalidLexicon' })
  const ref = (name: string) => ({
    lexicon: 1, id: 'com.example.test', defs: { main: { type: 'object', properties: { r: { type: 'ref', ref: `#${name}` } } } },
  })
  parseLexiconDoc(ref('b'.repeat(LEXICON_DEF_NAME_CHARS_MAX)))
  assert.throws(() => parseLexiconDoc(ref('b'.repeat(LEXICON_DEF_NAME_CHARS_MAX + 1))), { name: 'InvalidLexicon' })
})

test('LEXICON_VALIDATION_DEPTH_MAX: a self-referencing schema nests only so deep', () => {
  const registry = new LexiconRegistry()
  registry.add(parseLexiconDoc({
    lexicon: 1, id: 'com.example.tree',
    defs: {
      main: { type: 'record', key: 'any', record: { type: 'object', properties: { child: { type: 'ref', ref: '#node' } } } },
      node: { type: 'object', properties: { child: { type: 'ref', ref: '#node' } } },
    },
  }))
  registry.assertRefsResolve()
  // `objects` nested objects in total (the record itself is the first)
  const nested = (objects: number): { [key: string]: unknown } => {
    let value: { [key: string]: unknown } = {}
    for (let i = 1; i < objects; i++) value = { child: value }
    return value
  }
  validateRecord(registry, 'com.example.tree', { $type: 'com.example.tree', ...nested(LEXICON_VALIDATION_DEPTH_MAX) })
  assert.throws(
    () => validateRecord(registry, 'com.example.tree', { $type: 'com.example.tree', ...nested(LEXICON_VALIDATION_DEPTH_MAX + 1) }),
    (err: Error) => err.name === 'InvalidRecord' && err.message.endsWith('is nested too deeply'),
  )
})

test('LEXICON_DIR_DEPTH_MAX', async () => {
  await withTempDir(async (dir) => {
    const doc = JSON.stringify({ lexicon: 1, id: 'com.example.deep', defs: { main: { type: 'token' } } })
    const deepest = join(dir, ...Array.from({ length: LEXICON_DIR_DEPTH_MAX }, (_, i) => `d${i}`))
    mkdirSync(deepest, { recursive: true })
    writeFileSync(join(deepest, 'deep.json'), doc)
    assert.deepEqual((await loadLexiconDir(dir)).ids(), ['com.example.deep'])
    mkdirSync(join(deepest, 'one-more'))
    await assert.rejects(loadLexiconDir(dir), (err: Error) => err.name === 'InvalidLexicon' && err.message.includes('nested deeper'))
  })
})

test('LEXICON_DIR_FILES_MAX', async () => {
  await withTempDir(async (dir) => {
    // the count is checked while listing, before any file is read, so empty files suffice
    for (let i = 0; i <= LEXICON_DIR_FILES_MAX; i++) writeFileSync(join(dir, `f${i}.json`), '')
    await assert.rejects(loadLexiconDir(dir), (err: Error) => err.name === 'InvalidLexicon' && err.message.includes('more than'))
    rmSync(join(dir, 'f0.json'))
    // exactly at the limit the listing passes and the (empty) files are read: not JSON
    await assert.rejects(loadLexiconDir(dir), (err: Error) => err.name === 'InvalidLexicon' && err.message.includes('not JSON'))
  })
})

test('input validation shares the depth limit', () => {
  const registry = new LexiconRegistry()
  registry.add(parseLexiconDoc({
    lexicon: 1, id: 'com.example.echo',
    defs: {
      main: { type: 'procedure', input: { encoding: 'application/json', schema: { type: 'ref', ref: '#node' } } },
      node: { type: 'object', properties: { child: { type: 'ref', ref: '#node' } } },
    },
  }))
  let value: { [key: string]: unknown } = {}
  for (let i = 1; i <= LEXICON_VALIDATION_DEPTH_MAX; i++) value = { child: value }
  assert.throws(() => validateInput(registry, 'com.example.echo', value), { name: 'InvalidRequest' })
})
