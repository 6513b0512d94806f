/**
 * Keeps BEHAVIORS.md's "Adversarial cases" table true: one row per case of
 * test/adversarial/cases.json (the reliability spec §4 case ids and titles,
 * vendored), in order, with the case's title; every row names a test file
 * that exists and a test in it — for test/adversarial/* a test whose name
 * starts with the case id, elsewhere the exact test title (or scenario
 * name); and every case-id test in test/adversarial/* has its row.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'

type Case = { id: string; n: number; title: string }
type Row = { id: string; input: string; outcome: string; file: string; name: string }

const root = new URL('../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), 'utf8')
const cases = JSON.parse(read('test/adversarial/cases.json')) as Case[]

/** The table rows of the "## Adversarial cases" section. */
function tableRows(): Row[] {
  const text = read('BEHAVIORS.md')
  const start = text.indexOf('\n## Adversarial cases\n')
  assert.ok(start >= 0, 'BEHAVIORS.md has an "Adversarial cases" section')
  const end = text.indexOf('\n## ', start + 1)
  const rows: Row[] = []
  for (const line of text.slice(start, end < 0 ? undefined : end).split('\n')) {
    const m = /^\| (4\.\d+\.\d+) \| (.+?) \| (.+?) \| `([^`]+)` :: (.+?) \|$/.exec(line)
    if (m !== null) rows.push({ id: m[1]!, input: m[2]!, outcome: m[3]!, file: m[4]!, name: m[5]! })
    else assert.ok(!/^\| 4\./.test(line), `a malformed row: ${line}`)
  }
  return rows
}

/** Case ids named at the start of a test title (`it('4.1.1 …'` / test(`4.2.5 …`) in `source`. */
function caseIdsIn(source: string): string[] {
  return [...source.matchAll(/\b(?:it|test)\(\s*['`](4\.\d+\.\d+)\s/g)].map((m) => m[1]!)
}

test('the vendored case list is the 88 cases of §4.1–4.12, numbered as the spec', () => {
  assert.equal(cases.length, 88)
  assert.deepEqual(cases.map((c) => c.n), cases.map((_, i) => i + 1))
  const sectionSizes = [13, 7, 9, 5, 7, 8, 17, 5, 5, 6, 4, 2]
  const expected = sectionSizes.flatMap((size, s) => Array.from({ length: size }, (_, k) => `4.${s + 1}.${k + 1}`))
  assert.deepEqual(cases.map((c) => c.id), expected)
  for (const c of cases) assert.ok(c.title.length > 0 && !c.title.includes('|'), c.id)
})

test('BEHAVIORS.md has one row per case, in order, with its title', () => {
  const rows = tableRows()
  assert.equal(rows.length, cases.length, 'as many rows as cases')
  assert.deepEqual(rows.map((r) => r.id), cases.map((c) => c.id))
  for (const [i, row] of rows.entries()) assert.equal(row.input, cases[i]!.title, `${row.id}: the title from cases.json`)
})

test('every row names an existing test in an existing file', () => {
  for (const row of tableRows()) {
    assert.ok(existsSync(new URL(row.file, root)), `${row.id}: ${row.file} exists`)
    const source = read(row.file).replace(/\\'/g, "'")
    if (row.file.startsWith('test/adversarial/')) {
      assert.ok(caseIdsIn(source).includes(row.id), `${row.id}: ${row.file} has a test named with the case id`)
      assert.ok(row.name.startsWith(`${row.id} `), `${row.id}: the row names that test`)
    } else {
      assert.ok(source.includes(row.name), `${row.id}: ${row.file} has a test titled ${JSON.stringify(row.name)}`)
    }
  }
})

test('every case-id test of test/adversarial/ is in the table, pointing at its file (a case is tested in one file)', () => {
  const rows = tableRows()
  const dir = new URL('test/adversarial/', root)
  const seen = new Set<string>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.test.ts'))) {
    for (const id of new Set(caseIdsIn(readFileSync(new URL(file, dir), 'utf8')))) {
      assert.ok(!seen.has(id), `${id} is tested in one file only`)
      seen.add(id)
      const row = rows.find((r) => r.id === id)
      assert.equal(row?.file, `test/adversarial/${file}`, `${id}: its row points at test/adversarial/${file}`)
    }
  }
  assert.ok(seen.size > 0)
})
