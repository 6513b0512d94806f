/**
 * README.md's Configuration section stays complete and true:
 *   - every `--flag` and every `ATFED_*` variable that `atfed <cmd> --help`
 *     prints, for each service (pds, relay, feedgen, labeler, plc, dev) and
 *     each of their subcommands (feedgen publish, labeler label, …), is in
 *     that section;
 *   - every `ATFED_*` name the code reads (pds/, relay/, feedgen/,
 *     did-resolver/, core/, cli/) is in it, and every one it names is in
 *     the code (no variable documented that nothing reads);
 * and its Commands table names every command and subcommand of `atfed`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { buildProgram } from '../../cli/main.ts'
import { runAtfed } from '../helpers/atfed-cli.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const SERVICES = ['pds', 'relay', 'feedgen', 'labeler', 'plc', 'dev']
const SOURCE_DIRS = ['pds', 'relay', 'feedgen', 'did-resolver', 'core', 'cli']
/** `ATFED_*` names in the code that are not environment variables. */
const NOT_VARIABLES = new Set(['ATFED_BIN']) // cli/dev-child.ts: the path of bin/atfed.js

function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}\n`)
  assert.ok(start >= 0, `README.md has a "## ${heading}" section`)
  const end = README.indexOf('\n## ', start + 1)
  return README.slice(start, end < 0 ? undefined : end)
}

function configSection(): string {
  return section('Configuration')
}

function flagsOf(help: string): string[] {
  const options = help.slice(help.indexOf('Options:'), help.includes('\nCommands:') ? help.indexOf('\nCommands:') : undefined)
  const flags = new Set([...options.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]))
  flags.delete('--help')
  return [...flags]
}

function variablesIn(text: string): Set<string> {
  return new Set([...text.matchAll(/\bATFED_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0]))
}

function* sourceFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* sourceFiles(path)
    else if (name.endsWith('.ts')) yield path
  }
}

test('every flag and variable of every service --help is in the README Configuration section', { timeout: 60_000 }, async () => {
  const section = configSection()
  const program = await buildProgram('all')
  const helps = SERVICES.flatMap((name) => {
    const service = program.commands.find((c) => c.name() === name)
    assert.ok(service !== undefined, `atfed ${name}`)
    return [[name], ...service.commands.map((sub) => [name, sub.name()])]
  })
  const outs = await Promise.all(helps.map((args) => runAtfed([...args, '--help'])))
  let flagsSeen = 0
  outs.forEach((out, i) => {
    const command = `atfed ${helps[i]!.join(' ')}`
    assert.equal(out.code, 0, `${command} --help`)
    for (const flag of flagsOf(out.stdout)) {
      flagsSeen++
      assert.ok(section.includes(`\`${flag}\``), `${command} ${flag} is not in README.md's Configuration section`)
    }
    for (const name of variablesIn(out.stdout)) assert.ok(section.includes(name), `${command}: ${name} is not in README.md's Configuration section`)
  })
  assert.ok(flagsSeen > 40, `${flagsSeen} flags read from the help texts`)
})

test('every ATFED_ variable the code reads is documented, and only those', () => {
  const section = configSection()
  const inCode = new Set<string>()
  for (const dir of SOURCE_DIRS) {
    for (const file of sourceFiles(join(ROOT, dir))) for (const name of variablesIn(readFileSync(file, 'utf8'))) inCode.add(name)
  }
  for (const name of NOT_VARIABLES) inCode.delete(name)
  assert.ok(inCode.size > 50, `${inCode.size} names found in the code`)
  const missing = [...inCode].filter((name) => !section.includes(name))
  assert.deepEqual(missing, [], 'read by the code, missing from README.md Configuration')
  const stale = [...variablesIn(section)].filter((name) => !inCode.has(name))
  assert.deepEqual(stale, [], 'in README.md Configuration, read by nothing')
})

test('the Commands table names every command and subcommand', { timeout: 30_000 }, async () => {
  const rows = section('Commands').split('\n').filter((l) => l.startsWith('| `atfed '))
  const program = await buildProgram('all')
  const paths: string[][] = []
  for (const top of program.commands) {
    paths.push([top.name()])
    for (const sub of top.commands) {
      paths.push([top.name(), sub.name()])
      for (const leaf of sub.commands) paths.push([top.name(), sub.name(), leaf.name()])
    }
  }
  for (const path of paths) {
    const [top, ...rest] = path
    const token = (word: string) => new RegExp(`[\\s|\`]${word}[\\s\\\\|\`]`)
    const row = rows.find((r) => token(`atfed ${top}`).test(r) && rest.every((word) => token(word).test(r)))
    assert.ok(row !== undefined, `atfed ${path.join(' ')} is not in README.md's Commands table`)
  }
})
