/**
 * The relay end to end over one scripted host: a valid chain passes with the
 * relay's own seqs, repo views and host views reflect it; the plain routes,
 * the subscriber cap, paging and the views' error names.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before, test } from 'node:test'
import WebSocket from 'ws'
import { startRelayHarness } from './relay-harness.ts'
import type { RelayHarness } from './relay-harness.ts'

let h: RelayHarness

before(async () => {
  h = await startRelayHarness({ hosts: 1, tuning: { subscribersMax: 3 } })
})
after(async () => {
  await h?.close()
})

async function getJson(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.relay.url}${path}`)
  return { status: res.status, body: await res.json() }
}

test('a valid chain passes in order with the relay seqs', async () => {
  const host = h.hosts[0]!
  const alice = await h.account(host, 'alice.test')
  const consumer = h.consumer(0)
  const commits = [alice.commit(), alice.commit(), alice.commit()]
  for (const c of commits) host.emit(c.event)
  await h.settle(host, 3)
  await consumer.waitFor(3)
  assert.deepEqual(consumer.events.map((e) => e.seq), [1, 2, 3])
  assert.deepEqual(consumer.events.map((e) => (e.event.t === '#commit' ? e.event.rev : null)), commits.map((c) => c.result.rev))
  const status = await getJson(`/xrpc/com.atproto.sync.getRepoStatus?did=${alice.did}`)
  assert.deepEqual(status.body, { did: alice.did, active: true, rev: commits[2]!.result.rev })
  const latest = await getJson(`/xrpc/com.atproto.sync.getLatestCommit?did=${alice.did}`)
  assert.deepEqual(latest.body, { cid: commits[2]!.result.commitCid.toString(), rev: commits[2]!.result.rev })
  const repos = await getJson('/xrpc/com.atproto.sync.listRepos')
  assert.equal(repos.body.repos.length, 1)
  const hostStatus = await getJson(`/xrpc/com.atproto.sync.getHostStatus?hostname=${host.hostname}`)
  assert.equal(hostStatus.body.seq, 3)
  assert.equal(hostStatus.body.accountCount, 1)
  assert.equal(hostStatus.body.status, 'active')
  assert.equal(hostStatus.body.accepted, 3)
})

test('more accounts: listRepos pages, getLatestCommit and getRepoStatus error names', async () => {
  const host = h.hosts[0]!
  const bob = await h.account(host, 'bob.test')
  const carol = await h.account(host, 'carol.test')
  let taken = h.taken(host)
  for (const a of [bob, carol]) host.emit(a.commit().event)
  host.emit(carol.accountEvent(false, 'deactivated'))
  taken += 3
  await h.settle(host, taken)
  const dids: string[] = []
  let cursor: string | undefined
  for (let page = 0; page < 5; page++) {
    const res = await getJson(`/xrpc/com.atproto.sync.listRepos?limit=1${cursor === undefined ? '' : `&cursor=${cursor}`}`)
    for (const repo of res.body.repos) dids.push(repo.did)
    cursor = res.body.cursor
    if (cursor === undefined) break
  }
  assert.deepEqual(dids, [...dids].sort())
  assert.equal(new Set(dids).size, 3)
  const deactivated = await getJson(`/xrpc/com.atproto.sync.getLatestCommit?did=${carol.did}`)
  assert.equal(deactivated.body.error, 'RepoDeactivated')
  assert.deepEqual((await getJson(`/xrpc/com.atproto.sync.getRepoStatus?did=${carol.did}`)).body.status, 'deactivated')
  const listed = (await getJson('/xrpc/com.atproto.sync.listRepos')).body.repos.find((r: { did: string }) => r.did === carol.did)
  assert.equal(listed.active, false)
  assert.equal(listed.status, 'deactivated')
  assert.equal((await getJson('/xrpc/com.atproto.sync.getRepoStatus?did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')).body.error, 'RepoNotFound')
  assert.equal((await getJson('/xrpc/com.atproto.sync.getLatestCommit?did=did:plc:aaaaaaaaaaaaaaaaaaaaaaaa')).body.error, 'RepoNotFound')
  assert.equal((await getJson('/xrpc/com.atproto.sync.getRepoStatus?did=nope')).body.error, 'InvalidRequest')
  assert.equal((await getJson('/xrpc/com.atproto.sync.listRepos?limit=0')).body.error, 'InvalidRequest')
  assert.equal((await getJson('/xrpc/com.atproto.sync.listHosts?limit=1001')).body.error, 'InvalidRequest')
})

test('plain routes: /, _health, the stream path without an upgrade, the Server header', async () => {
  const home = await fetch(`${h.relay.url}/`) // a placeholder or the dashboard: either answers
  assert.equal(home.status, 200)
  await home.arrayBuffer()
  assert.match(home.headers.get('server') ?? '', /atproto-relay/)
  const health = await getJson('/xrpc/_health')
  assert.equal(health.status, 200)
  assert.equal(health.body.ok, true)
  assert.equal((await fetch(`${h.relay.url}/xrpc/com.atproto.sync.subscribeRepos`)).status, 426)
  if (existsSync(new URL('../../relay/jetstream/attach.ts', import.meta.url))) {
    assert.equal((await fetch(`${h.relay.url}/subscribe`)).status, 426, 'the Jetstream endpoint is mounted')
  }
  assert.equal((await getJson('/nope')).status, 404)
  const stray = new WebSocket(`${h.relay.url.replace('http:', 'ws:')}/xrpc/not.a.stream`)
  stray.on('error', () => {})
  const status = await new Promise<number>((resolve) => stray.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))
  assert.equal(status, 404, 'an upgrade to a path no stream serves')
})

test('the subscriber cap: past it the upgrade is refused with 503', async () => {
  const url = `${h.relay.url.replace('http:', 'ws:')}/xrpc/com.atproto.sync.subscribeRepos`
  const open: WebSocket[] = []
  try {
    // The cap is 3; the first test's consumer may still hold one slot.
    let refused = 0
    for (let i = 0; i < 4 && refused === 0; i++) {
      const ws = new WebSocket(url)
      ws.on('error', () => {}) // terminate() before the handshake ends emits one
      open.push(ws)
      refused = await new Promise<number>((resolve) => {
        ws.once('open', () => resolve(0))
        ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? -1))
      })
    }
    assert.equal(refused, 503)
    assert.ok(open.length >= 3, `${open.length - 1} subscribers were let in before the refusal`)
  } finally {
    for (const ws of open) ws.terminate()
  }
})
