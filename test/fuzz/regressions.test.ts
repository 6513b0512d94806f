/**
 * Every input the fuzzer ever crashed on (test/fuzz/regressions/<target>/
 * <sha>.bin, reason and expected outcome in <sha>.txt) replayed through its
 * target: it must now end as the `.txt` says — `expect: <ErrorName>` (a
 * documented rejection, matched by name) or `expect: ok` (accepted), the
 * first word of the line; the rest of it says why.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { AtfedError } from '../../core/errors.ts'
import type { FuzzTarget } from '../../fuzz/engine/target.ts'
import { TARGET_NAMES, targetUrl } from '../../fuzz/targets/list.ts'

const DIR = new URL('./regressions/', import.meta.url)

type Fixture = { target: string; file: string; input: Uint8Array; found: string; expect: string | undefined }

function fixtures(): Fixture[] {
  if (!existsSync(DIR)) return []
  const out: Fixture[] = []
  for (const target of readdirSync(DIR).sort()) {
    for (const file of readdirSync(new URL(`${target}/`, DIR)).filter((f) => f.endsWith('.bin')).sort()) {
      const text = readFileSync(new URL(`${target}/${file.replace(/\.bin$/, '.txt')}`, DIR), 'utf8')
      const line = (key: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${key}: `))?.slice(key.length + 2).trim()
      out.push({ target, file, input: new Uint8Array(readFileSync(new URL(`${target}/${file}`, DIR))), found: line('found') ?? '', expect: line('expect')?.split(/\s/)[0] })
    }
  }
  return out
}

const all = fixtures()

test('every regression fixture names a known target and its expected outcome', () => {
  for (const f of all) {
    assert.ok((TARGET_NAMES as readonly string[]).includes(f.target), `${f.target}/${f.file}: unknown target`)
    assert.ok(f.found !== '', `${f.target}/${f.file}: no "found:" line`)
    assert.ok(f.expect !== undefined, `${f.target}/${f.file}: no "expect:" line (add it once the bug is fixed)`)
  }
})

for (const f of all) {
  test(`regression ${f.target}/${f.file} (${f.found.slice(0, 60)}) → ${f.expect}`, { timeout: 10_000 }, async () => {
    const { target } = (await import(targetUrl(f.target as (typeof TARGET_NAMES)[number]))) as { target: FuzzTarget }
    const run = async (): Promise<void> => {
      await target.run(f.input)
    }
    if (f.expect === 'ok') {
      await run()
      return
    }
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof AtfedError, `expected AtfedError ${f.expect}, got ${String(err)}`)
      assert.equal(err.name, f.expect ?? '(no expect line)')
      assert.ok(target.expectedErrors.includes(err.name), `${err.name} is not a documented error of ${f.target}`)
      return true
    })
  })
}
