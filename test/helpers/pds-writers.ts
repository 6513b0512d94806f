/**
 * Writers for end-to-end tests: accounts on running PDSes (child processes
 * or in-process, reached only over HTTP) that write records through XRPC
 * (core/xrpc/client.ts), and the log of every acknowledged write.
 *
 * `writeBurst(accounts, { writesPerAccount, seed })` runs one writer per
 * account, all at once; each writer's writes are sequential (so its commits'
 * order is the order of its acknowledgements) and seeded: mostly creates,
 * some updates and deletes of the writer's own earlier records, and some
 * applyWrites batches of several creates, so the firehose carries every op
 * kind and multi-op commits. `progress()` counts acknowledged writes while
 * the burst runs (for "kill the relay mid-burst").
 */
import { XrpcClient } from '../../core/xrpc/client.ts'
import { makeRng } from './prng.ts'
import type { Rng } from './prng.ts'

export type WriterAccount = {
  readonly did: string
  readonly handle: string
  readonly accessJwt: string
  /** The PDS's URL (as the child printed it). */
  readonly pds: string
  /** The record keys this account has and may update or delete. */
  readonly rkeys: string[]
}

/** One acknowledged write: the commit the PDS answered with. */
export type AckedWrite = { readonly did: string; readonly rev: string; readonly commit: string; readonly ops: number }

const COLLECTION = 'app.bsky.feed.post'
const BATCH_CREATES_MAX = 4

type CommitReply = { commit?: { cid: string; rev: string }; uri?: string }

export async function createWriterAccount(pds: string, handle: string): Promise<WriterAccount> {
  const client = new XrpcClient({ service: pds })
  const reply = await client.procedure<{ did: string; handle: string; accessJwt: string }>('com.atproto.server.createAccount', {
    handle,
    password: 'e2e-password-123',
  })
  return { did: reply.body.did, handle: reply.body.handle, accessJwt: reply.body.accessJwt, pds, rkeys: [] }
}

function post(rng: Rng, label: string): Record<string, unknown> {
  return { $type: COLLECTION, text: `${label} ${rng.int(1_000_000_000)}`, createdAt: new Date().toISOString() }
}

function rkeyOf(uri: string): string {
  return uri.slice(uri.lastIndexOf('/') + 1)
}

/** One seeded write by `account`; returns the acknowledged commit, or null for a no-op. */
async function writeOnce(client: XrpcClient, account: WriterAccount, rng: Rng, label: string): Promise<AckedWrite | null> {
  const token = account.accessJwt
  const roll = rng.next()
  let reply: CommitReply
  let ops = 1
  if (account.rkeys.length > 0 && roll < 0.15) {
    const rkey = rng.pick(account.rkeys)
    reply = (await client.procedure<CommitReply>('com.atproto.repo.putRecord', { repo: account.did, collection: COLLECTION, rkey, record: post(rng, label) }, { token })).body
  } else if (account.rkeys.length > 0 && roll < 0.3) {
    const rkey = account.rkeys.splice(rng.int(account.rkeys.length), 1)[0]!
    reply = (await client.procedure<CommitReply>('com.atproto.repo.deleteRecord', { repo: account.did, collection: COLLECTION, rkey }, { token })).body
  } else if (roll < 0.4) {
    ops = 2 + rng.int(BATCH_CREATES_MAX - 1)
    const writes = Array.from({ length: ops }, () => ({ $type: 'com.atproto.repo.applyWrites#create', collection: COLLECTION, value: post(rng, label) }))
    const body = (await client.procedure<CommitReply & { results: { uri: string }[] }>('com.atproto.repo.applyWrites', { repo: account.did, writes }, { token })).body
    for (const result of body.results) account.rkeys.push(rkeyOf(result.uri))
    reply = body
  } else {
    reply = (await client.procedure<CommitReply>('com.atproto.repo.createRecord', { repo: account.did, collection: COLLECTION, record: post(rng, label) }, { token })).body
    account.rkeys.push(rkeyOf(reply.uri!))
  }
  if (reply.commit === undefined) return null
  return { did: account.did, rev: reply.commit.rev, commit: reply.commit.cid, ops }
}

export type Burst = {
  /** Writes acknowledged so far in this burst. */
  progress(): number
  /** Every acknowledged write of the burst, per writer in order; rejects if a write failed. */
  readonly done: Promise<AckedWrite[]>
}

export function writeBurst(accounts: readonly WriterAccount[], options: { writesPerAccount: number; seed: number; label: string }): Burst {
  let acknowledged = 0
  const writer = async (account: WriterAccount, index: number): Promise<AckedWrite[]> => {
    const client = new XrpcClient({ service: account.pds })
    const rng = makeRng(options.seed * 1_000 + index)
    const acked: AckedWrite[] = []
    for (let i = 0; i < options.writesPerAccount; i++) {
      const write = await writeOnce(client, account, rng, `${options.label} ${account.handle} ${i}`)
      if (write === null) continue
      acked.push(write)
      acknowledged++
    }
    return acked
  }
  const done = Promise.all(accounts.map(writer)).then((lists) => lists.flat())
  return { progress: () => acknowledged, done }
}
