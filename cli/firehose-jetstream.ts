/**
 * `atfed firehose --jetstream`: the relay's Jetstream endpoint (`/subscribe`,
 * JSON messages) instead of the CBOR firehose. The filters become its query
 * parameters (`wantedCollections`, `wantedDids`, `cursor` in unix
 * microseconds), so the relay filters before sending; each message is
 * printed as the one JSON line it is. With `--collection`, identity and
 * account messages (which Jetstream always sends) are left out, as in the
 * CBOR mode. No reconnects: a dropped or refused
 * connection is one error line (resume with the printed cursor).
 *
 * Backpressure: the socket is paused while a line waits for stdout.
 */
import WebSocket from 'ws'
import { AtfedError } from '../core/errors.ts'
import { FRAME_BYTES_MAX, STREAM_HANDSHAKE_TIMEOUT_MS } from '../core/limits.ts'
import { stopSignal, writeLine } from './firehose-output.ts'
import type { FirehoseFilter } from './firehose-output.ts'

/** An http(s)/ws(s) origin (or a full /subscribe URL) → the Jetstream URL with the filter's parameters. */
export function jetstreamUrl(input: string, filter: FirehoseFilter): string {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    throw new AtfedError('InvalidArgument', `not a URL: ${input}`)
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:'
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new AtfedError('InvalidArgument', `not an http(s)/ws(s) URL: ${input}`)
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/subscribe'
  url.search = ''
  for (const c of filter.collections) url.searchParams.append('wantedCollections', c)
  for (const p of filter.prefixes) url.searchParams.append('wantedCollections', `${p}*`)
  for (const d of filter.dids) url.searchParams.append('wantedDids', d)
  if (filter.cursor !== null) url.searchParams.set('cursor', String(filter.cursor))
  return url.toString()
}

export async function tailJetstream(input: string, filter: FirehoseFilter): Promise<void> {
  const ws = new WebSocket(jetstreamUrl(input, filter), { maxPayload: FRAME_BYTES_MAX, handshakeTimeout: STREAM_HANDSHAKE_TIMEOUT_MS })
  let lastCursor: number | null = filter.cursor
  let printed = 0
  let requested = false
  const recordsOnly = filter.collections.size > 0 || filter.prefixes.length > 0
  const finish = () => {
    requested = true
    ws.close()
  }
  const stop = stopSignal(finish)
  let failure: AtfedError | null = null
  ws.on('unexpected-response', (_req, res) => {
    failure = new AtfedError('StreamRefused', `${input} answered HTTP ${res.statusCode} to the Jetstream upgrade`)
    res.resume()
    ws.terminate()
  })
  ws.on('error', (err) => (failure ??= new AtfedError('StreamUnreachable', `${input}: ${err.message}`, { cause: err })))
  let chain = Promise.resolve()
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return // compressed frames are only sent when asked for
    ws.pause()
    chain = chain.then(async () => {
      if (requested) return // stopping: messages already read are dropped
      let message: { time_us?: unknown; kind?: unknown }
      try {
        message = JSON.parse(data.toString('utf8')) as { time_us?: unknown; kind?: unknown }
      } catch {
        process.stderr.write('firehose: skipped a message that is not JSON\n')
        return ws.resume()
      }
      if (typeof message.time_us === 'number') lastCursor = message.time_us
      if (recordsOnly && message.kind !== 'commit') return ws.resume() // as the CBOR mode: --collection means records only
      if (!(await writeLine(message)) || ++printed === filter.limit) return finish()
      ws.resume()
    })
  })
  await new Promise<void>((resolve) => ws.once('close', () => resolve()))
  await chain
  stop.dispose()
  process.stderr.write(`firehose: stopped${lastCursor === null ? '' : ` (resume with --jetstream --cursor ${lastCursor})`}\n`)
  if (failure !== null) throw failure
  if (!requested) throw new AtfedError('StreamClosed', `${input} closed the Jetstream connection`)
}
