/**
 * The plumbing `atfed firehose` shares between its two sources (the CBOR
 * firehose and Jetstream): flags parsed into one filter at the edge, JSON
 * lines written with backpressure, and the stop signals.
 *
 * - Filter: `--did` must be DIDs; `--collection` NSIDs or prefixes `a.b.*`
 *   (the part before `.*` is NSID segments); `--cursor` and `--limit`
 *   non-negative / positive integers. Anything else is `InvalidArgument`.
 * - Output: a line is written only once stdout has room (a slow `| jq`
 *   pushes back on the socket, through the stream client's bounded queue);
 *   a closed stdout (EPIPE from `| head`) makes `writeLine` answer false,
 *   never an unhandled 'error'.
 * - Stop: SIGINT/SIGTERM call `onStop` once (the caller then closes its
 *   stream and its loop ends); `dispose` removes the handlers.
 */
import { AtfedError } from '../core/errors.ts'
import { isDid } from '../core/syntax/did.ts'
import { isNsid } from '../core/syntax/nsid.ts'

export type FirehoseFilter = {
  readonly cursor: number | null
  readonly collections: ReadonlySet<string>
  /** `app.bsky.feed.` for `app.bsky.feed.*`. */
  readonly prefixes: readonly string[]
  readonly dids: ReadonlySet<string>
  /** Lines to print before stopping; null: no limit. */
  readonly limit: number | null
}

type FilterFlags = { cursor?: string; collection?: string[]; did?: string[]; limit?: string }

const PREFIX = /^[a-zA-Z][a-zA-Z0-9-]{0,62}(\.[a-zA-Z0-9-]{1,63})*\.\*$/

function bad(message: string): AtfedError<'InvalidArgument'> {
  return new AtfedError('InvalidArgument', message)
}

function integer(flag: string, text: string | undefined, min: number): number | null {
  if (text === undefined) return null
  if (!/^\d{1,16}$/.test(text) || Number(text) < min) throw bad(`${flag} must be an integer of at least ${min}: ${text}`)
  return Number(text)
}

export function parseFirehoseFilter(flags: FilterFlags): FirehoseFilter {
  const collections = new Set<string>()
  const prefixes: string[] = []
  for (const c of flags.collection ?? []) {
    if (PREFIX.test(c)) prefixes.push(c.slice(0, -1))
    else if (isNsid(c)) collections.add(c)
    else throw bad(`--collection must be an NSID or a prefix like app.bsky.feed.*: ${c}`)
  }
  for (const did of flags.did ?? []) if (!isDid(did)) throw bad(`--did must be a DID: ${did}`)
  return {
    cursor: integer('--cursor', flags.cursor, 0),
    collections,
    prefixes,
    dids: new Set(flags.did ?? []),
    limit: integer('--limit', flags.limit, 1),
  }
}

export function wantsCollection(filter: FirehoseFilter, collection: string): boolean {
  if (filter.collections.size === 0 && filter.prefixes.length === 0) return true
  return filter.collections.has(collection) || filter.prefixes.some((p) => collection.startsWith(p))
}

let stdoutClosed = false
let stdoutGuarded = false

/** Writes one JSON line, waiting for 'drain' when stdout's buffer is full; false once stdout is closed. */
export async function writeLine(value: unknown): Promise<boolean> {
  if (!stdoutGuarded) {
    stdoutGuarded = true
    process.stdout.on('error', () => (stdoutClosed = true)) // EPIPE from `| head`: stop, do not crash
  }
  if (stdoutClosed || process.stdout.destroyed) return false
  const fits = process.stdout.write(`${JSON.stringify(value)}\n`, (err) => {
    if (err != null) stdoutClosed = true
  })
  if (!fits) {
    await new Promise<void>((resolve) => {
      const done = () => {
        process.stdout.off('drain', done)
        process.stdout.off('close', done)
        resolve()
      }
      process.stdout.on('drain', done)
      process.stdout.on('close', done)
    })
  }
  return !stdoutClosed
}

export function stopSignal(onStop: () => void): { dispose(): void } {
  let stopped = false
  const handler = () => {
    if (stopped) return
    stopped = true
    onStop()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
