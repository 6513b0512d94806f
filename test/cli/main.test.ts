/**
 * cli/main.ts's lazy command loading:
 *   - the stubs are the real commands' faces: the top-level help built from
 *     stubs equals the one built with every command loaded, every real
 *     top-level command has its entry in COMMANDS, and loading one command
 *     gives it (and all its subcommands) the same help as loading all;
 *   - commandOf picks the command argv runs (`help <cmd>` too);
 *   - as child processes, with a module trace (test/helpers/module-trace-hooks.mjs):
 *     `atfed --help` loads no service code and no heavy dependency,
 *     `atfed plc --help` / `atfed dev --help` / `atfed car --help` load no
 *     other service's code; `atfed help pds` is `atfed pds --help`; -V prints
 *     the package version.
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Command } from 'commander'
import { buildProgram, commandOf, COMMANDS } from '../../cli/main.ts'
import { runAtfed } from '../helpers/atfed-cli.ts'

const ROOT = join(import.meta.dirname, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'atfed-main-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function* walk(cmd: Command, path: string[] = []): Generator<{ path: string; cmd: Command }> {
  for (const sub of cmd.commands) {
    const subPath = [...path, sub.name()]
    yield { path: subPath.join(' '), cmd: sub }
    yield* walk(sub, subPath)
  }
}

function helpOf(program: Command, path: string): string {
  const found = [...walk(program)].find((c) => c.path === path)
  assert.ok(found !== undefined, `atfed ${path} exists`)
  return found.cmd.helpInformation()
}

test('the stubs show what the real commands show', { timeout: 30_000 }, async () => {
  const all = await buildProgram('all')
  const lazy = await buildProgram([])
  assert.equal(lazy.helpInformation(), all.helpInformation())
  assert.deepEqual(
    all.commands.map((c) => c.name()),
    COMMANDS.map((c) => c.name),
    'every top-level command has its entry, in the same order',
  )
  for (const entry of COMMANDS) {
    const one = await buildProgram([entry.name])
    const real = [...walk(all)].filter((c) => c.path === entry.name || c.path.startsWith(`${entry.name} `))
    assert.ok(real.length > 0)
    for (const { path, cmd } of real) assert.equal(helpOf(one, path), cmd.helpInformation(), `atfed ${path} --help`)
    assert.equal(one.helpInformation(), all.helpInformation(), `top-level help with ${entry.name} loaded`)
  }
})

/** Issue 7's list of what the CLI has (point 2), as command paths and the flags it names. */
const ISSUE_7_COMMANDS: readonly (readonly [string, readonly string[]])[] = [
  ['dev', ['--seed']], ['pds', []], ['relay', []], ['plc', []], ['feedgen', []], ['labeler', []],
  ['account create', []], ['account migrate', []], ['account list', []],
  ['car export', ['--out']], ['car import', []], ['car inspect', []], ['car ls', []], ['car verify', []], ['car unpack', ['--out']],
  ['firehose', ['--collection', '--did', '--cursor']], ['did resolve', []], ['plc history', []],
  ['admin invites create', []], ['admin invites list', []], ['admin takedown', []], ['admin untakedown', []], ['admin hosts list', []], ['admin hosts ban', []],
]

test("issue 7's command list is all there, with its flags", { timeout: 30_000 }, async () => {
  const all = new Map([...walk(await buildProgram('all'))].map((c) => [c.path, c.cmd]))
  for (const [path, flags] of ISSUE_7_COMMANDS) {
    const cmd = all.get(path)
    assert.ok(cmd !== undefined, `atfed ${path}`)
    for (const flag of flags) assert.ok(cmd.options.some((o) => o.long === flag), `atfed ${path} ${flag}`)
  }
  for (const path of ['car export', 'car import']) assert.match(all.get(path)!.description(), /progress/, `atfed ${path} shows progress`)
})

test('commandOf: the command argv runs', () => {
  const argv = (...words: string[]) => ['node', 'atfed', ...words]
  assert.equal(commandOf(argv()), null)
  assert.equal(commandOf(argv('--help')), null)
  assert.equal(commandOf(argv('-V')), null)
  assert.equal(commandOf(argv('help')), null)
  assert.equal(commandOf(argv('help', 'pds')), 'pds')
  assert.equal(commandOf(argv('car', 'inspect', 'x.car')), 'car')
  assert.equal(commandOf(argv('nosuch')), 'nosuch')
})

/** Runs bin/atfed.js's equivalent with the module trace on; returns the loaded file paths under the repo. */
function tracedRun(args: readonly string[], name: string): Promise<{ code: number; stdout: string; files: string[] }> {
  const file = join(dir, `${name}.trace`)
  const script = [
    "import { register } from 'tsx/esm/api'",
    "import { register as registerHooks } from 'node:module'",
    'register()',
    `registerHooks(${JSON.stringify(pathToFileURL(join(ROOT, 'test', 'helpers', 'module-trace-hooks.mjs')).href)}, { data: { file: ${JSON.stringify(file)} } })`,
    `const { main } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'cli', 'main.ts')).href)})`,
    `await main(['node', 'atfed', ...${JSON.stringify(args)}])`,
  ].join('\n')
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 30_000 }, (err, stdout) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      const files = readFileSync(file, 'utf8').split('\n').filter((u) => u.startsWith('file:')).map((u) => new URL(u).pathname)
      resolve({ code, stdout, files })
    })
  })
}

function under(files: readonly string[], ...folders: string[]): string[] {
  return files.filter((f) => folders.some((folder) => f.startsWith(join(ROOT, folder) + '/')))
}

test('a command loads only its own code', { timeout: 60_000 }, async () => {
  const [help, plc, dev, car] = await Promise.all([
    tracedRun(['--help'], 'help'),
    tracedRun(['plc', '--help'], 'plc'),
    tracedRun(['dev', '--help'], 'dev'),
    tracedRun(['car', '--help'], 'car'),
  ])
  for (const run of [help, plc, dev, car]) assert.equal(run.code, 0)
  assert.match(help.stdout, /^Usage: atfed /)
  assert.ok(help.files.some((f) => f.endsWith('/cli/main.ts')), 'the trace works')
  assert.deepEqual(under(help.files, 'pds', 'relay', 'feedgen', 'did-resolver', 'core/repo', 'core/crypto'), [])
  const heavy = ['express', 'level', 'classic-level', '@noble/curves', 'multiformats', 'ws', '@nats-io/transport-node']
  assert.deepEqual(under(help.files, ...heavy.map((m) => `node_modules/${m}`)), [])
  assert.ok(help.files.length < 40, `${help.files.length} files for --help`)
  assert.deepEqual(under(plc.files, 'pds', 'relay', 'feedgen'), [])
  assert.ok(under(plc.files, 'did-resolver/plc').length > 0, 'plc loads its own code')
  assert.deepEqual(under(dev.files, 'pds', 'relay', 'feedgen', 'did-resolver'), [])
  assert.deepEqual(under(car.files, 'pds', 'relay', 'feedgen'), [])
})

test('atfed help <cmd> is <cmd> --help; -V prints the version', { timeout: 30_000 }, async () => {
  const [viaHelp, direct, version] = await Promise.all([runAtfed(['help', 'pds']), runAtfed(['pds', '--help']), runAtfed(['-V'])])
  assert.equal(viaHelp.code, 0)
  assert.equal(viaHelp.stdout, direct.stdout)
  assert.match(direct.stdout, /--admin-password <password>/)
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  assert.equal(version.stdout.trim(), pkg.version)
})
