/**
 * `atfed car export` and `atfed car import`: a repo CAR between a PDS and a
 * file, streamed both ways (memory stays flat), with a progress bar on
 * stderr (car-progress.ts) and one JSON line on stdout when done.
 *
 *   atfed car export --pds URL --did DID|HANDLE --out FILE
 *     com.atproto.sync.getRepo → FILE. A handle is resolved by that PDS
 *     (identity.resolveHandle). The bytes go to FILE.part, renamed to FILE
 *     only once complete; a failure or Ctrl-C removes the part file.
 *     Bounded by CAR_EXPORT_BYTES_MAX and CAR_TRANSFER_TIMEOUT_MS.
 *     Prints {did, file, bytes}. Check the file with `atfed car verify`.
 *   atfed car import --pds URL --handle H --password P FILE
 *     createSession, then com.atproto.repo.importRepo with FILE as the body.
 *     The PDS checks everything (see pds/migration/import-repo.ts) and takes
 *     a repo only into a DEACTIVATED account (a migration in, or a restore
 *     before activateAccount): an active one is `AccountActive`.
 *     Prints {did, file, bytes}.
 *
 * A PDS error is one line with its XRPC error name (`RepoNotFound`,
 * `AuthenticationRequired`, …), never a stack trace.
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { rename, rm, stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { ReadableStream } from 'node:stream/web'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { AtfedError } from '../core/errors.ts'
import { CAR_EXPORT_BYTES_MAX, CAR_TRANSFER_TIMEOUT_MS } from '../core/limits.ts'
import { isDid } from '../core/syntax/did.ts'
import { XrpcClient, XrpcClientError } from '../core/xrpc/client.ts'
import { TransferProgress } from './car-progress.ts'

type ExportFlags = { pds: string; did: string; out: string }
type ImportFlags = { pds: string; handle: string; password: string }

/** An XRPC failure as the one line the CLI prints: `<XrpcErrorName>: <message>`. */
function asCliError(err: unknown): unknown {
  if (!(err instanceof XrpcClientError)) return err
  return new AtfedError(err.error, err.message, { cause: err })
}

/** SIGINT/SIGTERM abort the transfer (the caller cleans up and fails with `Interrupted`). */
function abortOnSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const abort = () => controller.abort(new AtfedError('Interrupted', 'stopped by a signal'))
  process.once('SIGINT', abort)
  process.once('SIGTERM', abort)
  return { signal: controller.signal, dispose: () => (process.off('SIGINT', abort), process.off('SIGTERM', abort)) }
}

async function resolveDid(client: XrpcClient, subject: string): Promise<string> {
  if (isDid(subject)) return subject
  const res = await client.query<{ did: string }>('com.atproto.identity.resolveHandle', { handle: subject })
  if (!isDid(res.body.did)) throw new AtfedError('InvalidResponse', `resolveHandle answered without a DID for ${subject}`)
  return res.body.did
}

export async function exportCar(flags: ExportFlags): Promise<{ did: string; file: string; bytes: number }> {
  const client = new XrpcClient({ service: flags.pds })
  const part = `${flags.out}.part`
  const interrupt = abortOnSignal()
  let progress: TransferProgress | null = null
  try {
    const did = await resolveDid(client, flags.did)
    const res = await client.queryStream('com.atproto.sync.getRepo', { did }, {
      timeoutMs: CAR_TRANSFER_TIMEOUT_MS,
      responseBytesMax: CAR_EXPORT_BYTES_MAX,
      signal: interrupt.signal,
    })
    const length = Number(res.headers.get('content-length') ?? NaN)
    const bar = (progress = new TransferProgress(`export ${did}`, Number.isSafeInteger(length) ? length : null))
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of res.body) {
        bar.add(chunk.byteLength)
        yield chunk
      }
    }
    await pipeline(Readable.from(counted()), createWriteStream(part, { mode: 0o600 }))
    await rename(part, flags.out)
    bar.finish(true)
    return { did, file: flags.out, bytes: bar.bytes }
  } catch (err) {
    progress?.finish(false)
    await rm(part, { force: true })
    throw interrupt.signal.aborted ? interrupt.signal.reason : asCliError(err)
  } finally {
    interrupt.dispose()
  }
}

export async function importCar(file: string, flags: ImportFlags): Promise<{ did: string; file: string; bytes: number }> {
  const client = new XrpcClient({ service: flags.pds })
  const { size } = await stat(file).catch((err: unknown) => {
    throw new AtfedError('FileNotFound', `cannot read ${file}`, { cause: err })
  })
  const interrupt = abortOnSignal()
  let progress: TransferProgress | null = null
  try {
    const session = await client.procedure<{ did: string; accessJwt: string }>('com.atproto.server.createSession', {
      identifier: flags.handle,
      password: flags.password,
    })
    const bar = (progress = new TransferProgress(`import ${session.body.did}`, size))
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
        bar.add(chunk.byteLength)
        yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      }
    }
    const body = ReadableStream.from(counted()) as unknown as globalThis.ReadableStream<Uint8Array>
    await client.procedure('com.atproto.repo.importRepo', body, {
      token: session.body.accessJwt,
      encoding: 'application/vnd.ipld.car',
      timeoutMs: CAR_TRANSFER_TIMEOUT_MS,
      signal: interrupt.signal,
    })
    bar.finish(true)
    return { did: session.body.did, file, bytes: size }
  } catch (err) {
    progress?.finish(false)
    throw interrupt.signal.aborted ? interrupt.signal.reason : asCliError(err)
  } finally {
    interrupt.dispose()
  }
}

export function registerCarTransferCommands(car: Command): void {
  car
    .command('export')
    .description("download a repo from a PDS (sync.getRepo) into a CAR file, with a progress bar on stderr")
    .requiredOption('--pds <url>', 'the PDS hosting the repo')
    .requiredOption('--did <did>', 'the repo: a DID, or a handle the PDS resolves')
    .requiredOption('--out <file>', 'the CAR file to write (written as FILE.part, renamed when complete)')
    .action(async (flags: ExportFlags) => void process.stdout.write(`${JSON.stringify(await exportCar(flags))}\n`))
  car
    .command('import <file>')
    .description('upload a repo CAR into a deactivated account (repo.importRepo), with progress on stderr')
    .requiredOption('--pds <url>', 'the PDS holding the account')
    .requiredOption('--handle <handle>', 'handle or DID to log in with')
    .requiredOption('--password <password>', 'the account password (not an app password)')
    .action(async (file: string, flags: ImportFlags) => void process.stdout.write(`${JSON.stringify(await importCar(file, flags))}\n`))
}
