import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { parseLimits, renderLimits } from '../../scripts/limits-doc.ts'

const root = new URL('../../', import.meta.url)
const limitsSource = readFileSync(new URL('core/limits.ts', root), 'utf8')
const behaviors = readFileSync(new URL('BEHAVIORS.md', root), 'utf8')

test('BEHAVIORS.md lists every limit of core/limits.ts, with its current value (npm run docs:limits)', () => {
  const names = [...limitsSource.matchAll(/^export const (\w+)/gm)].map((m) => m[1]!)
  const parsed = parseLimits(limitsSource).flatMap((s) => s.limits.map((l) => l.name))
  assert.deepEqual(parsed, names, 'the generator sees every exported constant')
  assert.ok(behaviors.includes(renderLimits(parseLimits(limitsSource))), 'the generated section is up to date')
})
