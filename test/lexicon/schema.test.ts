/**
 * Lexicon documents: the interop lexicon vectors, every catalog file, every
 * upstream lexicon under lexicons/, then hand-made invalid
 * documents (each must fail with `InvalidLexicon` naming the failing path),
 * then the registry (lookup, ref checks, directory loading and its limits).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseLexiconDoc } from '../../core/lexicon/schema.ts'
import { LexiconRegistry, loadLexiconDir } from '../../core/lexicon/registry.ts'
import { LEXICON_DOC_BYTES_MAX } from '../../core/limits.ts'
import { LEXICONS_DIR, interopPath } from '../helpers/vectors.ts'

const VECTORS = interopPath('lexicon')
const UPSTREAM = LEXICONS_DIR

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'))
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort()
}

/** Asserts `fn` throws InvalidLexicon whose message contains `pathPart`. */
function rejects(fn: () => unknown, pathPart: string): void {
  assert.throws(fn, (err: Error) => {
    assert.equal(err.name, 'InvalidLexicon')
    assert.ok(err.message.includes(pathPart), `"${err.message}" should name ${pathPart}`)
    return true
  })
}

test('lexicon-valid.json: every document parses', () => {
  const cases = readJson(join(VECTORS, 'lexicon-valid.json')) as Array<{ name: string; lexicon: unknown }>
  assert.equal(cases.length, 3)
  for (const c of cases) assert.doesNotThrow(() => parseLexiconDoc(c.lexicon), c.name)
})

test('lexicon-invalid.json: every document is rejected with InvalidLexicon', () => {
  const cases = readJson(join(VECTORS, 'lexicon-invalid.json')) as Array<{ name: string; lexicon: unknown }>
  assert.equal(cases.length, 7)
  const where: { [name: string]: string } = {
    'invalid lexicon field': 'Lexicon/lexicon',
    'invalid id field': 'Lexicon/id',
    'invalid NSID': 'Lexicon/id',
    'defined unknown': 'example.lexicon.other#demo/type',
    'defined ref': 'example.lexicon.other#demo/type',
    'non-main primary': 'example.lexicon.other#demo/type',
    'record missing type object': 'example.lexicon.other#main/record/type',
  }
  for (const c of cases) {
    const path = where[c.name]
    assert.ok(path !== undefined, `unexpected case ${c.name}`)
    rejects(() => parseLexiconDoc(c.lexicon), path)
  }
})

test('catalog: every file parses, and record.json has the shape the record vectors need', () => {
  const files = jsonFiles(join(VECTORS, 'catalog'))
  assert.equal(files.length, 5)
  for (const f of files) parseLexiconDoc(readJson(join(VECTORS, 'catalog', f)))
  const record = parseLexiconDoc(readJson(join(VECTORS, 'catalog', 'record.json')))
  const main = record.defs['main']
  assert.equal(main?.type, 'record')
  assert.equal(main.type === 'record' && main.key, 'literal:demo')
  // refs are stored absolute; #main never appears
  const union = main.type === 'record' ? main.record.properties['union'] : undefined
  assert.deepEqual(union?.type === 'union' && union.refs, [
    'example.lexicon.record#demoObject', 'example.lexicon.record#demoObjectTwo',
  ])
})

test('every upstream lexicon file parses, and every ref resolves', async () => {
  const files = jsonFiles(UPSTREAM)
  assert.ok(files.length >= 250, `only ${files.length} files`)
  for (const f of files) {
    assert.doesNotThrow(() => parseLexiconDoc(readJson(join(UPSTREAM, f))), f)
  }
  const registry = await loadLexiconDir(UPSTREAM)
  assert.equal(registry.size, files.length)
  assert.deepEqual(registry.refProblems(), [])
  assert.equal(registry.getRecordDef('app.bsky.feed.post')?.key, 'tid')
  assert.equal(registry.getRecordDef('app.bsky.actor.profile')?.key, 'literal:self')
  assert.equal(registry.getMethodDef('com.atproto.repo.createRecord')?.type, 'procedure')
  assert.equal(registry.getMethodDef('com.atproto.sync.subscribeRepos')?.type, 'subscription')
  assert.equal(registry.getRecordDef('com.atproto.repo.createRecord'), undefined)
  assert.equal(registry.getDef('com.atproto.repo.strongRef#main'), registry.getDef('com.atproto.repo.strongRef'))
  assert.equal(registry.getDef('app.bsky.feed.defs#postView')?.type, 'object')
  assert.equal(registry.getDef('app.bsky.nope'), undefined)
})

// A minimal valid document with one def replaced: the mutation under test.
function docWith(def: unknown, name = 'main', extra: object = {}): unknown {
  return { lexicon: 1, id: 'com.example.test', defs: { [name]: def }, ...extra }
}
const obj = (properties: object, more: object = {}): object => ({ type: 'object', properties, ...more })

test('hand-made invalid documents are rejected, naming the path', () => {
  const cases: Array<[string, unknown, string]> = [
    ['not an object', 'lexicon', 'Lexicon'],
    ['lexicon 2', { ...(docWith(obj({})) as object), lexicon: 2 }, 'Lexicon/lexicon'],
    ['upper-case authority', { lexicon: 1, id: 'COM.example.test', defs: { main: obj({}) } }, 'Lexicon/id'],
    ['no defs', { lexicon: 1, id: 'com.example.test' }, 'com.example.test/defs'],
    ['empty defs', { lexicon: 1, id: 'com.example.test', defs: {} }, 'com.example.test/defs'],
    ['def name with #', docWith(obj({}), 'a#b'), 'com.example.test#a#b'],
    ['def without type', docWith({ description: 'x' }), 'com.example.test#main/type'],
    ['unknown def type', docWith({ type: 'float' }), 'com.example.test#main/type'],
    ['union as named def', docWith({ type: 'union', refs: [] }, 'u'), 'com.example.test#u/type'],
    ['params as named def', docWith({ type: 'params', properties: {} }, 'p'), 'com.example.test#p/type'],
    ['query not main', docWith({ type: 'query' }, 'q'), 'com.example.test#q/type'],
    ['object without properties', docWith({ type: 'object' }), 'com.example.test#main/properties'],
    ['required names undeclared', docWith(obj({ a: { type: 'integer' } }, { required: ['b'] })), '#main/required/0'],
    ['nullable names undeclared', docWith(obj({}, { nullable: ['x'] })), '#main/nullable/0'],
    ['token as property', docWith(obj({ t: { type: 'token' } })), '#main/properties/t/type'],
    ['bad string format', docWith(obj({ s: { type: 'string', format: 'email' } })), '#main/properties/s/format'],
    ['minLength > maxLength', docWith(obj({ s: { type: 'string', minLength: 5, maxLength: 2 } })), '#main/properties/s'],
    ['negative maxGraphemes', docWith(obj({ s: { type: 'string', maxGraphemes: -1 } })), '/s/maxGraphemes'],
    ['fractional maximum', docWith(obj({ i: { type: 'integer', maximum: 1.5 } })), '/i/maximum'],
    ['const and default', docWith(obj({ b: { type: 'boolean', const: true, default: true } })), '/properties/b'],
    ['default out of range', docWith(obj({ i: { type: 'integer', minimum: 1, default: 0 } })), '/i/default'],
    ['default not in enum', docWith(obj({ s: { type: 'string', enum: ['a'], default: 'b' } })), '/s/default'],
    ['enum of non-strings', docWith(obj({ s: { type: 'string', enum: [1] } })), '/s/enum/0'],
    ['array without items', docWith(obj({ a: { type: 'array' } })), '/a/items'],
    ['array of tokens', docWith(obj({ a: { type: 'array', items: { type: 'token' } } })), '/a/items/type'],
    ['ref without ref', docWith(obj({ r: { type: 'ref' } })), '/r/ref'],
    ['ref to a bad NSID', docWith(obj({ r: { type: 'ref', ref: 'nope#x' } })), '/r/ref'],
    ['ref with empty name', docWith(obj({ r: { type: 'ref', ref: 'com.example.x#' } })), '/r/ref'],
    ['closed empty union', docWith(obj({ u: { type: 'union', refs: [], closed: true } })), '/properties/u'],
    ['union refs not strings', docWith(obj({ u: { type: 'union', refs: [3] } })), '/u/refs/0'],
    ['blob partial glob', docWith(obj({ b: { type: 'blob', accept: ['text/ht*'] } })), '/b/accept/0'],
    ['blob bare star', docWith(obj({ b: { type: 'blob', accept: ['*'] } })), '/b/accept/0'],
    ['record without key', docWith({ type: 'record', record: obj({}) }), '#main/key'],
    ['record with bad key type', docWith({ type: 'record', key: 'uuid', record: obj({}) }), '#main/key'],
    ['record literal with bad key', docWith({ type: 'record', key: 'literal:..', record: obj({}) }), '#main/key'],
    ['param of type object', docWith({ type: 'query', parameters: { type: 'params', properties: { o: obj({}) } } }),
      '#main/parameters/properties/o'],
    ['param array of refs', docWith({
      type: 'query', parameters: { type: 'params', properties: { a: { type: 'array', items: { type: 'ref', ref: '#x' } } } },
    }), '#main/parameters/properties/a'],
    ['parameters not params', docWith({ type: 'query', parameters: obj({}) }), '#main/parameters/type'],
    ['output without encoding', docWith({ type: 'query', output: { schema: obj({}) } }), '#main/output/encoding'],
    ['output schema of type string', docWith({ type: 'query', output: { encoding: 'application/json', schema: { type: 'string' } } }),
      '#main/output/schema/type'],
    ['error name with space', docWith({ type: 'procedure', errors: [{ name: 'Bad Thing' }] }), '#main/errors/0/name'],
    ['subscription without message', docWith({ type: 'subscription' }), '#main/message'],
    ['subscription message object', docWith({ type: 'subscription', message: { schema: obj({}) } }), '#main/message/schema/type'],
    ['permission without resource', docWith({ type: 'permission-set', permissions: [{ type: 'permission' }] }),
      '#main/permissions/0/resource'],
    ['permission nested object', docWith({
      type: 'permission-set', permissions: [{ type: 'permission', resource: 'repo', collection: [{}] }],
    }), '#main/permissions/0/collection'],
    ['title:lang bad tag', docWith({ type: 'permission-set', permissions: [], 'title:lang': { 'not a tag': 'x' } }),
      "#main/title:lang/not a tag"],
  ]
  for (const [name, doc, path] of cases) {
    assert.throws(() => parseLexiconDoc(doc), (err: Error) => {
      assert.equal(err.name, 'InvalidLexicon', name)
      assert.ok(err.message.includes(path), `${name}: "${err.message}" should name ${path}`)
      return true
    }, name)
  }
})

test('parsing normalises refs, drops unknown keys, and does not alias the input', () => {
  const properties = {
    a: { type: 'ref', ref: '#other' },
    b: { type: 'ref', ref: 'com.example.elsewhere#main' },
    c: { type: 'union', refs: ['#other', 'com.example.x'] },
    d: { type: 'string', futureConstraint: 3 },
  }
  const json = {
    lexicon: 1, id: 'com.example.test', futureField: true,
    defs: { main: obj(properties), other: obj({}) },
  }
  const doc = parseLexiconDoc(json)
  const main = doc.defs['main']
  assert.ok(main?.type === 'object')
  assert.deepEqual(main.properties['a'], { type: 'ref', ref: 'com.example.test#other' })
  assert.deepEqual(main.properties['b'], { type: 'ref', ref: 'com.example.elsewhere' })
  assert.deepEqual(main.properties['c'], { type: 'union', refs: ['com.example.test#other', 'com.example.x'], closed: false })
  assert.deepEqual(main.properties['d'], { type: 'string' })
  assert.equal('futureField' in doc, false)
  assert.deepEqual(main.required, [])
  assert.equal(properties.a.ref, '#other')
})

test('registry: duplicate ids and unresolved refs are InvalidLexicon', () => {
  const registry = new LexiconRegistry()
  registry.add(parseLexiconDoc(docWith(obj({ r: { type: 'ref', ref: 'com.example.missing#x' } }))))
  assert.throws(() => registry.add(parseLexiconDoc(docWith(obj({})))), { name: 'InvalidLexicon' })
  assert.equal(registry.refProblems().length, 1)
  rejects(() => registry.assertRefsResolve(), 'com.example.test/properties/r')
  registry.add(parseLexiconDoc({ lexicon: 1, id: 'com.example.missing', defs: { x: { type: 'token' } } }))
  rejects(() => registry.assertRefsResolve(), 'points at a token')
})

test('registry: a union variant must be an object or a record', () => {
  const registry = new LexiconRegistry()
  registry.add(parseLexiconDoc({
    lexicon: 1, id: 'com.example.test',
    defs: { main: obj({ u: { type: 'union', refs: ['#s'] } }), s: { type: 'string' } },
  }))
  rejects(() => registry.assertRefsResolve(), 'not an object or record')
})

test('loadLexiconDir: names the bad file; enforces the file size limit; checkRefs is optional', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-lex-'))
  try {
    mkdirSync(join(dir, 'com', 'example'), { recursive: true })
    writeFileSync(join(dir, 'com', 'example', 'a.json'), JSON.stringify(docWith(obj({ r: { type: 'ref', ref: 'com.example.b' } }), 'main', { id: 'com.example.a' })))
    writeFileSync(join(dir, 'notes.txt'), 'ignored')
    await assert.rejects(loadLexiconDir(dir), (err: Error) => err.name === 'InvalidLexicon' && err.message.includes('does not resolve'))
    const partial = await loadLexiconDir(dir, { checkRefs: false })
    assert.deepEqual(partial.ids(), ['com.example.a'])

    writeFileSync(join(dir, 'com', 'example', 'b.json'), '{"lexicon": 1, "id": "com.example.b", "defs": {"main": {"type": "object"}}}')
    await assert.rejects(loadLexiconDir(dir), (err: Error) =>
      err.name === 'InvalidLexicon' && err.message.startsWith(join('com', 'example', 'b.json')) &&
      err.message.includes('com.example.b#main/properties'))

    writeFileSync(join(dir, 'com', 'example', 'b.json'), '{"lexicon": 1,')
    await assert.rejects(loadLexiconDir(dir), (err: Error) => err.name === 'InvalidLexicon' && err.message.includes('not JSON'))

    const pad = ' '.repeat(LEXICON_DOC_BYTES_MAX)
    writeFileSync(join(dir, 'com', 'example', 'b.json'), `{"lexicon": 1, "id": "com.example.b", "defs": {"main": {"type": "token"}}}${pad}`)
    await assert.rejects(loadLexiconDir(dir), (err: Error) => err.name === 'InvalidLexicon' && err.message.includes('larger than'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
