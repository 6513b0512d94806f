/**
 * The PLC directory's write path and reads, independent of HTTP.
 *
 * `submit(did, body)`: parse the DID (InvalidDid) and the op
 * (`parsePlcOp`, no legacy shapes) outside the queue, then, one submission at
 * a time: read the DID's audit log, take the acceptance time from the clock
 * (strictly increasing, see store.ts), run `validateNextOp` with rate limits
 * on, and append in one batch. A refused op changes nothing.
 *
 * One writer: submissions wait in a FIFO of at most PLC_WRITE_QUEUE_MAX; past
 * that `submit` fails fast with DirectoryBusy instead of growing the queue.
 * The clock is injectable (`now`) so tests can step past the 72 h recovery
 * window and the rate-limit windows.
 */
import { AtfedError } from '../../core/errors.ts'
import { PLC_WRITE_QUEUE_MAX } from '../../core/limits.ts'
import { isPlcDid, type Did } from '../../core/syntax/did.ts'
import { parsePlcOp, type PlcOp } from './operation.ts'
import { PlcStore, type StoredEntry } from './store.ts'
import { validateNextOp } from './validate.ts'

export type PlcDirectoryOptions = {
  dataDir: string
  /** Milliseconds since the epoch; defaults to Date.now. */
  now?: () => number
}

export function parsePlcDidParam(did: string): Did {
  if (!isPlcDid(did)) throw new AtfedError('InvalidDid', `not a did:plc: ${did.slice(0, 80)}`)
  return did
}

export class PlcDirectory {
  private tail: Promise<unknown> = Promise.resolve()
  private queued = 0

  private constructor(
    readonly store: PlcStore,
    private readonly now: () => number,
  ) {}

  static async open(options: PlcDirectoryOptions): Promise<PlcDirectory> {
    const store = await PlcStore.open(options.dataDir)
    return new PlcDirectory(store, options.now ?? Date.now)
  }

  async close(): Promise<void> {
    await this.tail.catch(() => undefined)
    await this.store.close()
  }

  /** Validate and store one op for `did`. Throws the rule's error name; nothing is written then. */
  async submit(did: string, body: unknown): Promise<StoredEntry> {
    const parsedDid = parsePlcDidParam(did)
    const op = parsePlcOp(body)
    if (this.queued >= PLC_WRITE_QUEUE_MAX) {
      throw new AtfedError('DirectoryBusy', 'too many operations waiting; retry shortly')
    }
    this.queued++
    const run = this.tail.then(() => this.apply(parsedDid, op))
    this.tail = run.catch(() => undefined).finally(() => this.queued--)
    return run
  }

  private async apply(did: Did, op: PlcOp): Promise<StoredEntry> {
    const log = await this.store.auditLog(did)
    const createdAt = this.store.nextCreatedAt(this.now())
    const result = validateNextOp(did, log, op, { nowMs: createdAt, enforceRateLimit: true })
    return this.store.append(log, { did, operation: op, cid: result.cid, createdAt }, result.nullified)
  }

  auditLog(did: Did): Promise<StoredEntry[]> {
    return this.store.auditLog(did)
  }

  async activeLog(did: Did): Promise<StoredEntry[]> {
    return (await this.store.auditLog(did)).filter((e) => !e.nullified)
  }

  /** The newest non-nullified entry (possibly a tombstone), or null for an unknown DID. */
  async lastEntry(did: Did): Promise<StoredEntry | null> {
    return (await this.activeLog(did)).at(-1) ?? null
  }
}
