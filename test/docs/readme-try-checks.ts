/**
 * What each README "look around" command (the second block of the Quick
 * start section) must print, run in a fresh clone against the running
 * `npm start` network with its seeded accounts. Each entry matches one
 * command (its text without the trailing comment); readme-commands.test.ts
 * fails on a README command that matches no entry, or more than one.
 * Checks run in README order and may use what an earlier one found
 * (`ctx.values`: alice's DID from `car inspect`).
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { CommandOutput } from './readme-shell.ts'

export type TryContext = { readonly clone: string; readonly values: Map<string, string> }
export type TryCheck = { readonly command: RegExp; check(out: CommandOutput, ctx: TryContext): void | Promise<void> }

const TOP_COMMANDS = ['plc', 'did', 'car', 'feedgen', 'labeler', 'relay', 'admin', 'pds', 'account', 'dev', 'firehose']

function jsonLines(out: CommandOutput): any[] {
  const lines = out.stdout.split('\n').filter((l) => l.trim() !== '')
  return lines.map((l) => {
    try {
      return JSON.parse(l)
    } catch {
      assert.fail(`${out.command}: not a JSON line: ${l}`)
    }
  })
}

function one(out: CommandOutput): any {
  const lines = jsonLines(out)
  assert.equal(lines.length, 1, `${out.command}: one JSON line, got ${out.stdout}`)
  return lines[0]
}

function aliceDid(ctx: TryContext): string {
  const did = ctx.values.get('alice')
  assert.ok(did !== undefined, 'car inspect ran before and found alice')
  return did
}

export const TRY_CHECKS: readonly TryCheck[] = [
  {
    command: /^npx atfed --help$/,
    check(out) {
      assert.match(out.stdout, /^Usage: atfed /)
      for (const name of TOP_COMMANDS) assert.match(out.stdout, new RegExp(`^  ${name} `, 'm'), `--help lists ${name}`)
    },
  },
  {
    command: /^npx atfed firehose --cursor 0 --collection app\.bsky\.feed\.post --limit \d+$/,
    check(out) {
      const limit = Number(/--limit (\d+)/.exec(out.command)![1])
      const lines = jsonLines(out)
      assert.equal(lines.length, limit)
      for (const l of lines) {
        assert.equal(l.type, 'commit')
        assert.match(l.path, /^app\.bsky\.feed\.post\//)
        assert.equal(typeof l.record?.text, 'string')
      }
      assert.match(out.stderr, /resume with --cursor \d+/)
    },
  },
  {
    command: /^npx atfed firehose --jetstream --cursor 0 --limit \d+$/,
    check(out) {
      const lines = jsonLines(out)
      assert.equal(lines.length, Number(/--limit (\d+)/.exec(out.command)![1]))
      for (const l of lines) assert.ok(['commit', 'identity', 'account'].includes(l.kind), JSON.stringify(l))
    },
  },
  {
    command: /^npx atfed car export --pds http:\/\/localhost:2583 --did alice\.test --out alice\.car$/,
    check(out, ctx) {
      const line = one(out)
      assert.match(line.did, /^did:plc:/)
      assert.equal(line.file, 'alice.car')
      assert.ok(line.bytes > 0)
      assert.ok(existsSync(join(ctx.clone, 'alice.car')))
      assert.match(out.stderr, /done/, 'the progress display ends')
    },
  },
  {
    command: /^npx atfed car inspect alice\.car$/,
    check(out, ctx) {
      const info = one(out)
      assert.match(info.did, /^did:plc:[a-z2-7]{24}$/)
      assert.equal(info.version, 3)
      assert.ok(info.records >= 4, `alice has a profile, posts, a follow and a like: ${info.records}`)
      ctx.values.set('alice', info.did)
      ctx.values.set('aliceRecords', String(info.records))
    },
  },
  {
    command: /^npx atfed car ls alice\.car$/,
    check(out, ctx) {
      const lines = out.stdout.trim().split('\n')
      for (const l of lines) assert.match(l, /^[a-z][a-zA-Z0-9.]+\/[A-Za-z0-9._:~-]+\tbafyrei[a-z2-7]+$/)
      assert.equal(lines.length, Number(ctx.values.get('aliceRecords')))
      assert.ok(lines.some((l) => l.startsWith('app.bsky.actor.profile/self\t')))
      assert.deepEqual(lines, [...lines].sort(), 'MST (key) order')
    },
  },
  {
    command: /^npx atfed car verify alice\.car$/,
    check(out) {
      assert.equal(out.stdout.trim(), 'ok')
    },
  },
  {
    command: /^npx atfed car unpack alice\.car --out alice$/,
    check(out, ctx) {
      const profile = JSON.parse(readFileSync(join(ctx.clone, 'alice', 'app.bsky.actor.profile', 'self.json'), 'utf8'))
      assert.equal(profile.$type, 'app.bsky.actor.profile')
      const posts = readdirSync(join(ctx.clone, 'alice', 'app.bsky.feed.post'))
      assert.ok(posts.length >= 3 && posts.every((f) => f.endsWith('.json')))
      assert.match(out.stderr, /unpacked \d+ records/)
    },
  },
  {
    command: /^did=\$\(npx atfed car inspect alice\.car \| node -p .*\)$/,
    check(out) {
      assert.equal(out.stdout.trim(), '', 'an assignment prints nothing')
    },
  },
  {
    command: /^pw=\$\(node -p 'require\("\.\/data\/dev\.json"\)\.adminPassword'\)$/,
    check(out) {
      assert.equal(out.stdout.trim(), '', 'an assignment prints nothing')
    },
  },
  {
    command: /^npx atfed account list --pds http:\/\/localhost:2583 --admin-password "\$pw"$/,
    check(out) {
      const handles = jsonLines(out).map((a) => a.handle)
      for (const handle of ['alice.test', 'carol.test']) assert.ok(handles.includes(handle), `${handle} in ${handles.join(', ')}`)
      assert.ok(!handles.includes('bob.test'), 'bob is on PDS 2')
    },
  },
  {
    command: /^npx atfed admin invites create --pds http:\/\/localhost:2583 --admin-password "\$pw"$/,
    check(out) {
      assert.match(out.stdout, /^[A-Za-z0-9.-]+-[A-Za-z0-9-]+\n$/, 'one invite code')
    },
  },
  {
    command: /^npx atfed admin hosts list --password "\$pw"$/,
    check(out) {
      const hosts = jsonLines(out)
      assert.deepEqual(hosts.map((h) => h.hostname).sort(), ['localhost:2583', 'localhost:2584'])
      for (const h of hosts) assert.ok(['active', 'throttled'].includes(h.status), `${h.hostname} is followed: ${h.status}`)
    },
  },
  {
    command: /^npx atfed did resolve "\$did" --plc http:\/\/127\.0\.0\.1:2582 --allow-private$/,
    check(out, ctx) {
      const identity = one(out)
      assert.equal(identity.did, aliceDid(ctx))
      assert.equal(identity.pds, 'http://localhost:2583')
      assert.match(identity.signingKey, /^did:key:z/)
    },
  },
  {
    command: /^npx atfed plc history "\$did" --plc http:\/\/127\.0\.0\.1:2582 --verify$/,
    check(out, ctx) {
      const log = jsonLines(out)
      assert.ok(log.length >= 1)
      assert.equal(log[0].did, aliceDid(ctx))
      assert.equal(log[0].operation.type, 'plc_operation')
      assert.ok(log.at(-1).operation.alsoKnownAs.includes('at://alice.test'))
    },
  },
  {
    command: /^npx atfed firehose --cursor 0 --did "\$did" --collection app\.bsky\.feed\.like --limit 1$/,
    check(out, ctx) {
      const like = one(out)
      assert.equal(like.did, aliceDid(ctx))
      assert.match(like.path, /^app\.bsky\.feed\.like\//)
      assert.match(like.record.subject.uri, /^at:\/\/did:plc:/)
    },
  },
]
