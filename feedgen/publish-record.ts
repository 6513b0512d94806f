/**
 * Writing one record into an account's repo on its PDS, as its owner: the
 * shared step of `atfed feedgen publish` and `atfed labeler publish`.
 * createSession with the handle or DID and password (an app password
 * works), then putRecord with that session, so publishing again updates the
 * record instead of adding one. The PDS validates the record against its
 * lexicon when it knows it (`validationStatus: "valid"`).
 *
 * A PDS error surfaces as the client's `XrpcClientError` (status and XRPC
 * error name); an answer without the fields we need is `InvalidResponse`.
 */
import { AtfedError } from '../core/errors.ts'
import { isDid } from '../core/syntax/did.ts'
import type { Did } from '../core/syntax/did.ts'
import { XrpcClient } from '../core/xrpc/client.ts'

export type PutRecordAsOptions = {
  /** The owner's PDS origin. */
  pds: string
  /** Handle or DID of the owner. */
  identifier: string
  password: string
  collection: string
  rkey: string
  record: { readonly $type: string; readonly [field: string]: unknown }
}

export type PutRecordResult = { did: Did; uri: string; cid: string; validationStatus: string | null }

export async function putRecordAs(opts: PutRecordAsOptions): Promise<PutRecordResult> {
  const client = new XrpcClient({ service: opts.pds })
  const session = await client.procedure<{ did?: unknown; accessJwt?: unknown }>('com.atproto.server.createSession', {
    identifier: opts.identifier,
    password: opts.password,
  })
  const { did, accessJwt } = session.body
  if (!isDid(did) || typeof accessJwt !== 'string') throw new AtfedError('InvalidResponse', 'createSession answered without did and accessJwt')
  const put = await client.procedure<{ uri?: unknown; cid?: unknown; validationStatus?: unknown }>(
    'com.atproto.repo.putRecord',
    { repo: did, collection: opts.collection, rkey: opts.rkey, record: opts.record },
    { token: accessJwt },
  )
  const { uri, cid, validationStatus } = put.body
  if (typeof uri !== 'string' || typeof cid !== 'string') throw new AtfedError('InvalidResponse', 'putRecord answered without uri and cid')
  return { did, uri, cid, validationStatus: typeof validationStatus === 'string' ? validationStatus : null }
}
