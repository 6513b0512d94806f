/**
 * Publishing a feed: write the `app.bsky.feed.generator` record into the
 * publisher's repo on their PDS (publish-record.ts: createSession with the
 * handle or DID and password — an app password works — then putRecord). The record's
 * key is the feed's name, so the feed's uri is
 * `at://<publisher DID>/app.bsky.feed.generator/<name>`; putRecord makes a
 * re-publish an update, not a duplicate.
 *
 * Checked before any request: the name is a record key (the feed modules'
 * names are), `did` the feed generator's service DID, `displayName` ≤ 24
 * graphemes / 240 bytes, `description` ≤ 300 graphemes / 3000 bytes (the
 * lexicon's limits) → `InvalidArgument`. A PDS error surfaces as the
 * client's `XrpcClientError` (status and XRPC error name).
 */
import { AtfedError } from '../core/errors.ts'
import { isDid } from '../core/syntax/did.ts'
import { isRecordKey } from '../core/syntax/record-key.ts'
import { putRecordAs } from './publish-record.ts'
import type { PutRecordAsOptions } from './publish-record.ts'

const DISPLAY_NAME_GRAPHEMES_MAX = 24
const DISPLAY_NAME_BYTES_MAX = 240
const DESCRIPTION_GRAPHEMES_MAX = 300
const DESCRIPTION_BYTES_MAX = 3_000

export type PublishOptions = {
  /** The publisher's PDS origin. */
  pds: string
  /** Handle or DID of the publisher. */
  identifier: string
  password: string
  /** The feed's name (record key), e.g. `keyword`. */
  feed: string
  /** The feed generator's service DID (`did:web:<hostname>`). */
  serviceDid: string
  displayName: string
  description?: string
  now?: () => Date
}

export type Published = { uri: string; cid: string; record: Record<string, string> }

export function bad(message: string): AtfedError<'InvalidArgument'> {
  return new AtfedError('InvalidArgument', message)
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' })

export function checkText(field: string, text: string, graphemesMax: number, bytesMax: number): void {
  if (Buffer.byteLength(text, 'utf8') > bytesMax) throw bad(`${field} is longer than ${bytesMax} bytes`)
  let graphemes = 0
  for (const _ of segmenter.segment(text)) if (++graphemes > graphemesMax) throw bad(`${field} is longer than ${graphemesMax} characters`)
}

export async function publishFeedGenerator(opts: PublishOptions): Promise<Published> {
  if (!isRecordKey(opts.feed)) throw bad(`feed name is not a record key: ${opts.feed}`)
  if (!isDid(opts.serviceDid)) throw bad(`not a DID: ${opts.serviceDid}`)
  if (opts.displayName.trim() === '') throw bad('a display name is required')
  checkText('display name', opts.displayName, DISPLAY_NAME_GRAPHEMES_MAX, DISPLAY_NAME_BYTES_MAX)
  if (opts.description !== undefined) checkText('description', opts.description, DESCRIPTION_GRAPHEMES_MAX, DESCRIPTION_BYTES_MAX)

  const record: Record<string, string> = {
    $type: 'app.bsky.feed.generator',
    did: opts.serviceDid,
    displayName: opts.displayName,
    ...(opts.description === undefined ? {} : { description: opts.description }),
    createdAt: (opts.now?.() ?? new Date()).toISOString(),
  }
  const { uri, cid } = await putRecordAs({ ...opts, collection: 'app.bsky.feed.generator', rkey: opts.feed, record: record as PutRecordAsOptions['record'] })
  return { uri, cid, record }
}
