/**
 * The table `npm start` (atfed dev) prints, and what each row must answer
 * (readme-commands.test.ts):
 *   plc, pds1, pds2, relay, feedgen, labeler  its health route names the
 *       service; a did:web row's /.well-known/did.json has that id; the
 *       labeler's health names its did:plc;
 *   firehose, jetstream   the WebSocket opens and, from cursor 0, sends an event;
 *   dashboard, pdsN admin an HTML page;
 *   feed:<name>           getFeedSkeleton on the feed generator: a page (the
 *       keyword feed not empty once the seeded posts are indexed), or
 *       AuthRequired for the personalised one.
 * A row this file does not know fails: a new row needs its check here.
 */
import assert from 'node:assert/strict'
import { WebSocket } from 'ws'

export type TableRow = { readonly name: string; readonly url: string; readonly did: string }

const HTTP_TIMEOUT_MS = 15_000
const WS_EVENT_TIMEOUT_MS = 20_000
const FEED_INDEXED_TIMEOUT_MS = 60_000

/** The rows between the SERVICE header and the `admin:` line. */
export function parseDevTable(lines: readonly string[]): TableRow[] {
  const start = lines.findIndex((l) => l.startsWith('SERVICE'))
  assert.ok(start >= 0, `no table in:\n${lines.join('\n')}`)
  const rows: TableRow[] = []
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('admin:')) break
    const [name, url, did] = line.split(/\s{2,}/)
    assert.ok(name !== undefined && url !== undefined && did !== undefined, `bad table row: ${line}`)
    rows.push({ name, url, did })
  }
  assert.ok(rows.length >= 6, `a short table:\n${lines.join('\n')}`)
  return rows
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS), redirect: 'manual' })
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() }
}

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await get(url)
  let body: unknown = null
  try {
    body = JSON.parse(res.body)
  } catch {
    // the status tells
  }
  return { status: res.status, body }
}

async function checkService(row: TableRow, service: string): Promise<void> {
  const health = await getJson(service === 'plc' ? `${row.url}/_health` : `${row.url}/xrpc/_health`)
  assert.equal(health.status, 200, `${row.name} health`)
  assert.match(String(health.body?.version), new RegExp(`^atfed-${service}/`), `${row.name} health names the service`)
  if (row.did.startsWith('did:web:')) {
    const doc = await getJson(`${row.url}/.well-known/did.json`)
    assert.equal(doc.body?.id, row.did, `${row.name}'s DID document`)
  } else if (row.did.startsWith('did:plc:')) {
    assert.equal(health.body?.did, row.did, `${row.name}'s health names its DID`)
  } else {
    assert.equal(row.did, '-', `${row.name}: a DID or -`)
  }
}

function firstMessage(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`no message from ${url} within ${WS_EVENT_TIMEOUT_MS} ms`))
    }, WS_EVENT_TIMEOUT_MS)
    ws.once('message', (data: Buffer) => {
      clearTimeout(timer)
      ws.close()
      resolve(data)
    })
    ws.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

async function checkFeed(row: TableRow, rows: readonly TableRow[]): Promise<void> {
  const feedgen = rows.find((r) => r.name === 'feedgen')
  assert.ok(feedgen !== undefined)
  const url = `${feedgen.url}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(row.url)}`
  const deadline = Date.now() + FEED_INDEXED_TIMEOUT_MS
  for (;;) {
    const res = await getJson(url)
    if (res.status === 401) return assert.equal(res.body?.error, 'AuthRequired', `${row.name}: a personalised feed`)
    assert.equal(res.status, 200, `${row.name}: ${JSON.stringify(res.body)}`)
    assert.ok(Array.isArray(res.body?.feed), `${row.name} answers a skeleton`)
    if (row.name !== 'feed:keyword' || res.body.feed.length > 0) return
    assert.ok(Date.now() < deadline, 'the keyword feed stays empty: the seeded #atfed posts never got indexed')
    await new Promise((r) => setTimeout(r, 500))
  }
}

export async function checkTableRow(row: TableRow, rows: readonly TableRow[]): Promise<void> {
  const service = /^(plc|pds|relay|feedgen|labeler)\d?$/.exec(row.name)
  if (service !== null) return checkService(row, service[1]!)
  if (row.name === 'firehose') {
    assert.match(row.url, /^ws:\/\/.*\/xrpc\/com\.atproto\.sync\.subscribeRepos$/)
    const frame = await firstMessage(`${row.url}?cursor=0`)
    return assert.ok(frame.length > 0)
  }
  if (row.name === 'jetstream') {
    const message = JSON.parse((await firstMessage(`${row.url}?cursor=0`)).toString('utf8')) as { kind?: unknown }
    return assert.ok(['commit', 'identity', 'account'].includes(String(message.kind)), JSON.stringify(message))
  }
  if (row.name === 'dashboard' || /^pds\d admin$/.test(row.name)) {
    const page = await get(row.url)
    assert.equal(page.status, 200, `${row.name} ${row.url}`)
    return assert.match(page.type, /^text\/html/, `${row.name} is a page`)
  }
  if (row.name.startsWith('feed:')) return checkFeed(row, rows)
  assert.fail(`a table row readme-network.ts has no check for: ${row.name} ${row.url}`)
}
