/**
 * The relay's small pure pieces: host-name parsing (the negative space by
 * error name), default host limits (the reference formula), limit changes,
 * the per-host token buckets, the config from flags and environment.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  RELAY_HOST_ACCOUNTS_MAX_NEW,
  RELAY_HOST_EVENTS_PER_SECOND_BASE,
  RELAY_HOST_EVENTS_PER_SECOND_TRUSTED,
  RELAY_HOST_LIMIT_VALUE_MAX,
} from '../../core/limits.ts'
import { relayConfigFrom } from '../../relay/config.ts'
import { applyLimitsChange, defaultHostLimits, parseLimitsChange } from '../../relay/hosts/host-limits.ts'
import { hostOfEndpoint, hostsMatch, hostStreamUrl, parseHostInput } from '../../relay/hosts/host-name.ts'
import type { HostName } from '../../relay/hosts/host-name.ts'
import { HostRateLimiter } from '../../relay/hosts/rate-limiter.ts'

test('host names: accepted forms normalise to one key', () => {
  for (const input of ['pds.example.com', 'https://PDS.example.com', 'wss://pds.example.com/xrpc/x?y=1', ' pds.example.com ']) {
    assert.deepEqual(parseHostInput(input, { dev: false }), { hostname: 'pds.example.com', secure: true })
  }
  assert.equal(hostOfEndpoint('https://PDS.example.com'), 'pds.example.com')
  assert.equal(hostOfEndpoint('https://pds.example.com:443/'), 'pds.example.com')
  assert.equal(hostOfEndpoint('not a url'), null)
  assert.equal(hostStreamUrl({ hostname: 'pds.example.com' as never, secure: true }), 'wss://pds.example.com/xrpc/com.atproto.sync.subscribeRepos')
})

test('host names: refused without the dev flag, by error name', () => {
  const cases: [string, string][] = [
    ['http://pds.example.com', 'InsecureHost'],
    ['ws://pds.example.com', 'InsecureHost'],
    ['pds.example.com:8080', 'HostPortNotAllowed'],
    ['127.0.0.1', 'HostIsIp'],
    ['[::1]', 'HostIsIp'],
    ['localhost', 'InvalidHostname'],
    ['pds.local', 'InvalidHostname'],
    ['single-label', 'InvalidHostname'],
    ['ftp://pds.example.com', 'InvalidHostname'],
    ['https://user:pw@pds.example.com', 'InvalidHostname'],
    ['', 'InvalidHostname'],
    ['x'.repeat(600), 'InvalidHostname'],
  ]
  for (const [input, name] of cases) assert.throws(() => parseHostInput(input, { dev: false }), { name }, input)
})

test('host names: the dev flag allows loopback, ports and plain http', () => {
  assert.deepEqual(parseHostInput('http://127.0.0.1:2583', { dev: true }), { hostname: '127.0.0.1:2583', secure: false })
  assert.deepEqual(parseHostInput('localhost:2583', { dev: true }), { hostname: 'localhost:2583', secure: true })
})

test('host match: equal names; loopback spellings of one port only in dev', () => {
  const h = (s: string) => s as HostName
  assert.ok(hostsMatch(h('pds.example.com'), h('pds.example.com'), { dev: false }))
  assert.ok(!hostsMatch(h('pds.example.com'), h('other.example.com'), { dev: true }))
  assert.ok(!hostsMatch(null, h('pds.example.com'), { dev: true }))
  assert.ok(hostsMatch(h('localhost:2583'), h('127.0.0.1:2583'), { dev: true }))
  assert.ok(hostsMatch(h('[::1]:2583'), h('localhost:2583'), { dev: true }))
  assert.ok(!hostsMatch(h('localhost:2583'), h('127.0.0.1:2583'), { dev: false }))
  assert.ok(!hostsMatch(h('localhost:2583'), h('127.0.0.1:2584'), { dev: true }))
  assert.ok(!hostsMatch(h('localhost'), h('127.0.0.1:80'), { dev: true }))
})

test('default limits: new hosts start small, trusted hosts get the trusted rates', () => {
  const fresh = defaultHostLimits(false)
  assert.equal(fresh.accountsMax, RELAY_HOST_ACCOUNTS_MAX_NEW)
  assert.equal(fresh.eventsPerSecond, RELAY_HOST_EVENTS_PER_SECOND_BASE)
  assert.deepEqual(defaultHostLimits(false, 100_000), { accountsMax: 100_000, eventsPerSecond: 150, eventsPerHour: 102_500, eventsPerDay: 1_020_000 })
  assert.equal(defaultHostLimits(true).eventsPerSecond, RELAY_HOST_EVENTS_PER_SECOND_TRUSTED)
})

test('limit changes: validated, and an account limit recomputes an untrusted host\'s rates', () => {
  assert.deepEqual(parseLimitsChange({ accountsMax: 5, other: 'x' }), { accountsMax: 5 })
  for (const bad of [{}, { accountsMax: 0 }, { eventsPerSecond: 1.5 }, { eventsPerDay: '10' }, { eventsPerHour: RELAY_HOST_LIMIT_VALUE_MAX + 1 }]) {
    assert.throws(() => parseLimitsChange(bad), { name: 'InvalidRequest' }, JSON.stringify(bad))
  }
  const base = defaultHostLimits(false)
  assert.deepEqual(applyLimitsChange(base, { accountsMax: 2000 }, false), defaultHostLimits(false, 2000))
  assert.equal(applyLimitsChange(base, { accountsMax: 2000, eventsPerSecond: 7 }, false).eventsPerSecond, 7)
  assert.equal(applyLimitsChange(defaultHostLimits(true), { accountsMax: 3 }, true).eventsPerSecond, RELAY_HOST_EVENTS_PER_SECOND_TRUSTED)
})

test('rate limiter: a full bucket passes at once, then the rate holds; every window counts', () => {
  let now = 0
  const limiter = new HostRateLimiter({ accountsMax: 1, eventsPerSecond: 10, eventsPerHour: 25, eventsPerDay: 1000 }, () => now)
  for (let i = 0; i < 10; i++) assert.equal(limiter.tryTake(), 0)
  const wait = limiter.tryTake()
  assert.ok(wait > 0 && wait <= 100, `wait ${wait}`)
  now += wait
  assert.equal(limiter.tryTake(), 0)
  // The hour window (25) runs dry before the second window does.
  let passed = 11
  for (let t = 0; t < 100; t++) {
    now += 100
    if (limiter.tryTake() === 0) passed++
  }
  assert.ok(passed >= 25 && passed <= 27, `passed ${passed}`)
  limiter.setLimits({ accountsMax: 1, eventsPerSecond: 10, eventsPerHour: 1_000_000, eventsPerDay: 1_000_000 })
  now += 1000
  assert.equal(limiter.tryTake(), 0)
})

test('config: flags win over ATFED_RELAY_* env; required and bad values by name', () => {
  const env = { ATFED_RELAY_DATA: '/tmp/r', ATFED_RELAY_PORT: '9000', ATFED_RELAY_HOSTS: 'a.example.com, b.example.com', ATFED_RELAY_DEV: '1', ATFED_PLC_URL: 'http://plc' }
  const config = relayConfigFrom({ port: '9001' }, env)
  assert.equal(config.port, 9001)
  assert.equal(config.dataDir, '/tmp/r')
  assert.deepEqual(config.hosts, ['a.example.com', 'b.example.com'])
  assert.equal(config.dev, true)
  assert.equal(config.plcUrl, 'http://plc')
  assert.equal(config.retentionMs, 72 * 3600_000)
  assert.equal(config.adminPassword, null)
  assert.equal(relayConfigFrom({ data: '/x', retentionHours: '2', adminPassword: 'pw' }, {}).retentionMs, 2 * 3600_000)
  assert.throws(() => relayConfigFrom({}, {}), { name: 'InvalidArgument' })
  assert.throws(() => relayConfigFrom({ data: '/x', port: '70000' }, {}), { name: 'InvalidArgument' })
  assert.throws(() => relayConfigFrom({ data: '/x', retentionHours: '0' }, {}), { name: 'InvalidArgument' })
})
