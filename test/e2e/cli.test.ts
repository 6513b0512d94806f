/**
 * The `atfed` command as a whole, and `atfed dev`'s refusals:
 *   - every command and subcommand has a description and a --help (walked
 *     in-process over buildProgram); --help exits 0 for a sample, as a child;
 *   - an unknown command or flag is an error line plus usage, exit 1, no
 *     stack trace;
 *   - `atfed dev` refuses, by error name and before starting anything: a
 *     bad --base-port (InvalidArgument), a data dir another atfed dev holds
 *     (DevAlreadyRunning), a corrupt dev.json (DevStateCorrupt), a
 *     --base-port other than the stored one (DevPortsMismatch).
 */
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { buildProgram } from '../../cli/main.ts'
import { portsFor, writeDevState } from '../../cli/dev-layout.ts'
import { assertOneLineError, runAtfed } from '../helpers/atfed-cli.ts'

const dirs: string[] = []
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'atfed-cli-'))
  dirs.push(d)
  return d
}

function* walk(cmd: Command, path: string[] = []): Generator<{ path: string[]; cmd: Command }> {
  for (const sub of cmd.commands) {
    const subPath = [...path, sub.name()]
    yield { path: subPath, cmd: sub }
    yield* walk(sub, subPath)
  }
}

test('every command has a description and a help text', async () => {
  const all = [...walk(await buildProgram('all'))]
  assert.ok(all.length > 25, `${all.length} commands`)
  for (const { path, cmd } of all) {
    assert.notEqual(cmd.description(), '', `atfed ${path.join(' ')} has no description`)
    assert.match(cmd.helpInformation(), /^Usage: /, `atfed ${path.join(' ')}`)
  }
  const names = all.map((c) => c.path.join(' '))
  for (const wanted of ['dev', 'firehose', 'car export', 'car import', 'car inspect', 'account migrate', 'plc history', 'did resolve', 'admin hosts']) {
    assert.ok(names.some((n) => n === wanted || n.startsWith(`${wanted} `)), `atfed ${wanted} exists`)
  }
})

test('--help exits 0; unknown commands and flags are one error line, exit 1, no stack', async () => {
  const [help, devHelp, carHelp, unknown, badFlag] = await Promise.all([
    runAtfed(['--help']),
    runAtfed(['dev', '--help']),
    runAtfed(['car', 'export', '--help']),
    runAtfed(['nosuchcommand']),
    runAtfed(['firehose', '--no-such-flag']),
  ])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: atfed/m)
  assert.equal(devHelp.code, 0)
  assert.match(devHelp.stdout, /Default ports: plc 2582, pds1 2583, pds2 2584, relay 2470, feedgen 2585, labeler 2586/)
  assert.equal(carHelp.code, 0)
  assert.match(carHelp.stdout, /--out <file>/)
  for (const out of [unknown, badFlag]) {
    assert.equal(out.code, 1)
    assert.match(out.stderr, /^atfed: UsageError: unknown (command|option) .+ \(see: atfed( firehose)? --help\)\n$/)
    assert.doesNotMatch(out.stderr, /\n\s+at /)
  }
})

test('atfed dev refuses bad ports, a held data dir, a corrupt state and other ports, by name', async () => {
  const held = tempDir()
  writeFileSync(join(held, 'dev.pid'), JSON.stringify({ pid: process.pid, children: [] })) // this test process: alive
  const corrupt = tempDir()
  writeFileSync(join(corrupt, 'dev.json'), '{"version": 1, "ports": ')
  const stored = tempDir()
  writeDevState(stored, { version: 1, ports: portsFor(41_000), adminPassword: 'x', publisher: null, seed: { accounts: {}, done: [] } })
  const [badPort, tooHigh, busy, broken, mismatch] = await Promise.all([
    runAtfed(['dev', '--data', tempDir(), '--base-port', 'abc']),
    runAtfed(['dev', '--data', tempDir(), '--base-port', '65533']),
    runAtfed(['dev', '--data', held]),
    runAtfed(['dev', '--data', corrupt]),
    runAtfed(['dev', '--data', stored, '--base-port', '42000']),
  ])
  assertOneLineError(badPort, 'InvalidArgument')
  assertOneLineError(tooHigh, 'InvalidArgument')
  assertOneLineError(busy, 'DevAlreadyRunning')
  assert.match(busy.stderr, new RegExp(`pid ${process.pid}`))
  assertOneLineError(broken, 'DevStateCorrupt')
  assertOneLineError(mismatch, 'DevPortsMismatch')
})
