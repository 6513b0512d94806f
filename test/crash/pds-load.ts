/**
 * The write load of the PDS crash target: `clients` concurrent writers,
 * writer c writing as account c % accounts (so account 0 has two writers
 * when clients > accounts: its writes are pipelined on heads that are not
 * durable yet, the group-commit path). Each writer loops createRecord with a
 * unique text (`life L client C n`) until stopped, `pauseMs` apart if set.
 *
 * Every request ends in one of two logs: `acked` (HTTP 200: the answer's
 * record CID, commit CID and rev) or `uncertain` (sent, never answered: the
 * child was killed under it). Any other answer is a failure of the run
 * (`failures`), never silently ignored.
 */
import type { Load } from './harness.ts'

export type PdsAccount = { readonly did: string; readonly accessJwt: string }

export type AckedCreate = { did: string; path: string; cid: string; commit: string; rev: string; text: string; life: number }

export type PdsLog = {
  readonly acked: AckedCreate[]
  /** Texts of creates that were in flight at a kill, by life. */
  readonly uncertain: Map<string, number>
  readonly failures: string[]
}

export const POST_COLLECTION = 'app.bsky.feed.post'

type CreateReply = { uri: string; cid: string; commit: { cid: string; rev: string } }

async function createOnce(url: string, account: PdsAccount, text: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/xrpc/com.atproto.repo.createRecord`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${account.accessJwt}` },
    body: JSON.stringify({ repo: account.did, collection: POST_COLLECTION, record: { $type: POST_COLLECTION, text, createdAt: new Date().toISOString() } }),
  })
  return { status: res.status, body: await res.json() }
}

export type PdsLoadOptions = {
  url: string
  accounts: readonly PdsAccount[]
  clients: number
  life: number
  log: PdsLog
  /** Each writer waits this long between writes (a paced load); default none. */
  pauseMs?: number
}

export function pdsLoad(options: PdsLoadOptions): Load {
  const { url, accounts, life, log } = options
  let stopped = false
  let acknowledged!: () => void
  const first = new Promise<void>((resolve) => (acknowledged = resolve))
  const writer = async (c: number): Promise<void> => {
    const account = accounts[c % accounts.length]!
    for (let n = 0; !stopped; n++) {
      const text = `life ${life} client ${c} ${n}`
      let reply: { status: number; body: unknown }
      try {
        reply = await createOnce(url, account, text)
      } catch {
        log.uncertain.set(text, life) // the connection died under the request
        return
      }
      if (reply.status !== 200) {
        if (!stopped) log.failures.push(`createRecord ${text}: HTTP ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`)
        return
      }
      const body = reply.body as CreateReply
      const path = body.uri.split('/').slice(3).join('/')
      log.acked.push({ did: account.did, path, cid: body.cid, commit: body.commit.cid, rev: body.commit.rev, text, life })
      acknowledged()
      if (options.pauseMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.pauseMs))
    }
  }
  const running = Promise.all(Array.from({ length: options.clients }, (_, c) => writer(c)))
  return {
    acknowledged: first,
    stop: async () => {
      stopped = true
      await running
    },
  }
}
