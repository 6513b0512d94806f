/**
 * RelayStatsSampler (relay/dashboard/stats.ts) on a manual clock and a
 * stand-in host registry: rates over the window, the ring of samples stays
 * bounded, a host added mid-window, a counter that went down, the listed
 * hosts capped with the total reported, and seeded random counters whose
 * rate always equals (now − oldest kept sample) / elapsed.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { DropCounts } from '../../relay/drop-reasons.ts'
import type { HostRecord, HostStatus } from '../../relay/hosts/host-registry.ts'
import { RelayStatsSampler, type StatsSources } from '../../relay/dashboard/stats.ts'
import { makeRng } from '../helpers/prng.ts'

type FakeHost = { hostname: string; accepted: number; drops: DropCounts; cursor: number | null; accountCount: number; status: HostStatus }

function world() {
  let now = 1_000_000
  let seq = 0
  const hosts = new Map<string, FakeHost>()
  const sources: StatsSources = {
    hosts: {
      get size() {
        return hosts.size
      },
      page: (_after, limit) => [...hosts.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : 1)).slice(0, limit) as unknown as HostRecord[],
      statusOf: (record) => (record as unknown as FakeHost).status,
    },
    log: { lastSeq: () => seq },
    subscribers: () => 2,
  }
  return {
    sources,
    hosts,
    clock: () => now,
    advance(ms: number) {
      now += ms
    },
    addHost(hostname: string): FakeHost {
      const host: FakeHost = { hostname, accepted: 0, drops: {}, cursor: null, accountCount: 0, status: 'active' }
      hosts.set(hostname, host)
      return host
    },
    emit(host: FakeHost, n: number) {
      host.accepted += n
      seq += n
    },
  }
}

test('events/s per host and in total over the window; the ring of samples stays bounded', () => {
  const w = world()
  const a = w.addHost('a.example')
  const b = w.addHost('b.example')
  const sampler = new RelayStatsSampler(w.sources, { intervalMs: 1_000, windowMs: 10_000, now: w.clock })
  try {
    for (let s = 0; s < 30; s++) {
      w.advance(1_000)
      w.emit(a, 20)
      w.emit(b, 5)
      sampler.sample()
      assert.ok(sampler.samples <= 11, `samples ${sampler.samples}`)
    }
    assert.equal(sampler.samples, 11)
    const stats = sampler.stats()
    assert.equal(stats.windowMs, 10_000)
    assert.equal(stats.hosts.find((h) => h.hostname === 'a.example')?.eventsPerSecond, 20)
    assert.equal(stats.hosts.find((h) => h.hostname === 'b.example')?.eventsPerSecond, 5)
    assert.equal(stats.eventsPerSecond, 25)
    assert.equal(stats.seq, 750)
    assert.equal(stats.subscribers, 2)
    // Nothing more happens: the rate decays to zero once the window has passed.
    for (let s = 0; s < 11; s++) {
      w.advance(1_000)
      sampler.sample()
    }
    assert.equal(sampler.stats().eventsPerSecond, 0)
  } finally {
    sampler.close()
  }
})

test('a host added mid-window counts from zero; drops have their own rate; a counter that went down reads 0', () => {
  const w = world()
  const sampler = new RelayStatsSampler(w.sources, { intervalMs: 1_000, windowMs: 4_000, now: w.clock })
  try {
    w.advance(2_000)
    const late = w.addHost('late.example')
    w.emit(late, 40)
    late.drops = { InvalidEvent: 3, RevReplay: 1 }
    const stats = sampler.stats()
    const row = stats.hosts[0]
    assert.equal(row?.eventsPerSecond, 20)
    assert.equal(row?.dropped, 4)
    assert.equal(row?.dropsPerSecond, 2)
    sampler.sample()
    late.accepted = 0 // removed and added again
    w.advance(1_000)
    assert.equal(sampler.stats().hosts[0]?.eventsPerSecond, 0)
  } finally {
    sampler.close()
  }
})

test('hosts listed are capped (hostname order) and the total is reported', () => {
  const w = world()
  for (let i = 0; i < 30; i++) w.addHost(`h${String(i).padStart(2, '0')}.example`)
  const sampler = new RelayStatsSampler(w.sources, { hostsShownMax: 7, now: w.clock })
  try {
    const stats = sampler.stats()
    assert.equal(stats.hostsTotal, 30)
    assert.deepEqual(stats.hosts.map((h) => h.hostname), Array.from({ length: 7 }, (_, i) => `h0${i}.example`))
    assert.equal(stats.windowMs, 0)
    assert.equal(stats.eventsPerSecond, 0, 'no time elapsed: no rate, not a division by zero')
  } finally {
    sampler.close()
  }
})

test('seeded random traffic: the rate is always the change since the oldest kept sample over the time between', () => {
  const rng = makeRng(7)
  const w = world()
  const host = w.addHost('r.example')
  const sampler = new RelayStatsSampler(w.sources, { intervalMs: 500, windowMs: 3_000, now: w.clock })
  const history: Array<{ at: number; accepted: number }> = [{ at: w.clock(), accepted: 0 }]
  try {
    for (let step = 0; step < 200; step++) {
      w.advance(500)
      w.emit(host, rng.int(100))
      sampler.sample()
      history.push({ at: w.clock(), accepted: host.accepted })
      if (history.length > 7) history.shift()
      w.advance(rng.int(400))
      const oldest = history[0]!
      const expected = ((host.accepted - oldest.accepted) * 1000) / (w.clock() - oldest.at)
      assert.ok(Math.abs((sampler.stats().hosts[0]?.eventsPerSecond ?? -1) - expected) < 1e-9, `step ${step}`)
    }
  } finally {
    sampler.close()
  }
})
