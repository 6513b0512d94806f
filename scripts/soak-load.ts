/**
 * The soak's load and its observers.
 *
 * `pacedWriters`: `clients` concurrent loops, client c writing
 * createRecord as account c % accounts (bounded concurrency: at most
 * `clients` requests in flight). One shared schedule spaces the writes
 * 1/`ratePerS` apart; a loop that falls behind does not burst to catch up
 * (the schedule never lags now by more than one slot per client), so the
 * achieved rate is what the PDS sustained, never more than the target.
 * Each acknowledged write's latency (send → HTTP 200) goes into the current
 * window; any other answer counts as an error. Every post text contains
 * SOAK_KEYWORD, so the feed generator indexes all of them.
 *
 * `firehoseCounter`: one WebSocket consumer of the relay's subscribeRepos
 * that only counts frames (no decoding: the relay is measured, not us).
 *
 * `feedgenLagMs`: the newest item of the keyword feed is a post whose
 * record key is a TID the PDS minted at write time; now minus that TID's
 * time is how far the feed generator's index trails the writes.
 */
import http from 'node:http'
import WebSocket from 'ws'
import { tidToTimestampUs, isTid } from '../core/syntax/tid.ts'
import { createWriterAccount } from '../test/helpers/pds-writers.ts'
import type { WriterAccount } from '../test/helpers/pds-writers.ts'
import { SOAK_KEYWORD } from './soak-network.ts'

const COLLECTION = 'app.bsky.feed.post'
const REQUEST_TIMEOUT_MS = 10_000

export type WriteWindow = { acked: number; errors: number; latenciesMs: number[] }

export type Writers = {
  /** The window since the last call (and start a new one). */
  take(): WriteWindow
  stop(): Promise<void>
}

export async function createSoakAccounts(pdsUrl: string, count: number): Promise<WriterAccount[]> {
  const accounts: WriterAccount[] = []
  for (let i = 0; i < count; i++) accounts.push(await createWriterAccount(pdsUrl, `soak${i}.test`))
  return accounts
}

export function pacedWriters(accounts: readonly WriterAccount[], options: { clients: number; ratePerS: number }): Writers {
  const gapMs = 1000 / options.ratePerS
  let window: WriteWindow = { acked: 0, errors: 0, latenciesMs: [] }
  let stopped = false
  let nextAt = performance.now()
  const slot = (): number => {
    nextAt = Math.max(nextAt + gapMs, performance.now() - gapMs * options.clients)
    return nextAt
  }
  const writer = async (c: number): Promise<void> => {
    const account = accounts[c % accounts.length]!
    for (let n = 0; !stopped; n++) {
      const wait = slot() - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      if (stopped) return
      const sent = performance.now()
      try {
        const record = { $type: COLLECTION, text: `${SOAK_KEYWORD} client ${c} post ${n}`, createdAt: new Date().toISOString() }
        const status = await postStatus(`${account.pds}/xrpc/com.atproto.repo.createRecord`, { repo: account.did, collection: COLLECTION, record }, account.accessJwt)
        if (status === 200) {
          window.acked++
          window.latenciesMs.push(performance.now() - sent)
        } else window.errors++
      } catch {
        window.errors++
      }
    }
  }
  const running = Promise.all(Array.from({ length: options.clients }, (_, c) => writer(c)))
  return {
    take: () => {
      const taken = window
      window = { acked: 0, errors: 0, latenciesMs: [] }
      return taken
    },
    stop: async () => {
      stopped = true
      await running
      AGENT.destroy()
    },
  }
}

/**
 * Keep-alive node:http, not fetch: on this 2-core box the load shares the
 * cores with the four services, and fetch cost the soak's own process
 * ~0.7 ms of CPU per write (node:http: a fraction of that).
 */
const AGENT = new http.Agent({ keepAlive: true, maxSockets: 256 })

/** POST `body` as JSON; resolves with the status once the reply is read, rejects on a socket error or after REQUEST_TIMEOUT_MS. */
function postStatus(url: string, body: unknown, token: string): Promise<number> {
  const payload = Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST', agent: AGENT, timeout: REQUEST_TIMEOUT_MS,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: `Bearer ${token}` },
    }, (res) => {
      res.on('data', () => {})
      res.on('error', reject)
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy(new Error(`no reply in ${REQUEST_TIMEOUT_MS} ms`)))
    req.on('error', reject)
    req.end(payload)
  })
}

export type FirehoseCounter = { take(): number; close(): void }

export function firehoseCounter(relayUrl: string): FirehoseCounter {
  let frames = 0
  const ws = new WebSocket(`${relayUrl.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`)
  ws.on('message', () => void frames++)
  ws.on('error', () => {}) // a dropped consumer shows as 0 events/s in the CSV
  return {
    take: () => {
      const n = frames
      frames = 0
      return n
    },
    close: () => ws.terminate(),
  }
}

/** The keyword feed's at-uri, as the feed generator describes it. */
export async function keywordFeedUri(feedgenUrl: string): Promise<string> {
  const res = await fetch(`${feedgenUrl}/xrpc/app.bsky.feed.describeFeedGenerator`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  const body = (await res.json()) as { feeds: { uri: string }[] }
  const uri = body.feeds.map((f) => f.uri).find((u) => u.endsWith('/keyword'))
  if (uri === undefined) throw new Error(`the feed generator serves no keyword feed: ${JSON.stringify(body)}`)
  return uri
}

/** Now minus the newest indexed post's TID time; null while the feed is empty or unreachable. */
export async function feedgenLagMs(feedgenUrl: string, feedUri: string): Promise<number | null> {
  try {
    const res = await fetch(`${feedgenUrl}/xrpc/app.bsky.feed.getFeedSkeleton?feed=${encodeURIComponent(feedUri)}&limit=1`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    const body = (await res.json()) as { feed?: { post: string }[] }
    const rkey = body.feed?.[0]?.post.split('/').at(-1)
    if (rkey === undefined || !isTid(rkey)) return null
    return Math.max(0, Date.now() - tidToTimestampUs(rkey) / 1000)
  } catch {
    return null
  }
}
