/**
 * Accounts that `atfed dev` makes on its own PDSes, over their public XRPC
 * API (the same calls any client makes): the feed publisher at the first
 * start, and the demo accounts of `--seed`. Each gets a random password,
 * kept in DATA/dev.json so later starts can log in as it.
 *
 * A PDS error becomes one `DevSetupFailed` line naming what was being done
 * and the server's error name (`HandleNotAvailable`, …).
 */
import { AtfedError } from '../core/errors.ts'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'
import type { DevAccount } from './dev-layout.ts'
import { newSecret } from './dev-layout.ts'

export type Session = { readonly did: string; readonly accessJwt: string }

/** The handle of the account whose repo holds the feed generator records. */
export const PUBLISHER_HANDLE = 'feeds.test'

/** Runs `call`, turning an XRPC failure into one line saying what failed. */
export async function step<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof XrpcClientError) throw new AtfedError('DevSetupFailed', `${what}: ${err.error}: ${err.message}`, { cause: err })
    throw err
  }
}

export async function createDevAccount(pdsUrl: string, handle: string, pds: DevAccount['pds']): Promise<DevAccount> {
  const password = newSecret()
  const client = new XrpcClient({ service: pdsUrl })
  const res = await step(`create ${handle} on ${pdsUrl}`, () =>
    client.procedure<{ did: string }>('com.atproto.server.createAccount', { handle, password, email: `${handle.split('.')[0]}@example.test` }),
  )
  return { did: res.body.did, handle, password, pds }
}

export async function login(pdsUrl: string, account: DevAccount): Promise<Session> {
  const client = new XrpcClient({ service: pdsUrl })
  const res = await step(`log in to ${pdsUrl} as ${account.handle}`, () =>
    client.procedure<Session>('com.atproto.server.createSession', { identifier: account.did, password: account.password }),
  )
  return { did: res.body.did, accessJwt: res.body.accessJwt }
}
