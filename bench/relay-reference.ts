/**
 * A reference-style relay ingest pipeline, built from the libraries the
 * official TypeScript stack uses, for the `relay` bench section's ratios.
 * Per #commit frame, in order, one thread:
 *   1. decode: header then body with @ipld/dag-cbor (its cborg `decodeFirst`
 *      with dag-cbor's strict options, then `decode` for the body);
 *   2. CAR: @atproto/repo `readCarWithRoot` (re-hashes every block), root is
 *      the event's commit; the commit block parsed by its `def.commit`;
 *   3. signature: @atproto/repo `verifyCommitSig` (@atproto/crypto) with the
 *      account's key from a warm DID cache (a Map, as our relay's is warm);
 *   4. chain: `since` / `prevData` against the account's stored rev and data;
 *   5. sync 1.1 inversion: @atproto/repo's MST loaded from the event's blocks,
 *      each op undone (create → delete, update → back to prev, delete → add
 *      prev), the root must equal `prevData`;
 *   6. sequence: the body re-encoded with the next seq (dag-cbor), appended
 *      to a level log with the account state, group-committed (one fsync'd
 *      batch in flight; events arriving meanwhile join the next one), as our
 *      sequencer does.
 * `referenceInProcess` feeds the frames from memory; `referenceOverWebSocket`
 * reads them from the scripted host (relay-ingest-host.ts) over a loopback
 * WebSocket from cursor 0, one at a time, as a consumer of that library would.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore, MST, def, getAndParseByDef, readCarWithRoot, verifyCommitSig } from '@atproto/repo'
import { decodeFirst } from 'cborg'
import { Level } from 'level'
import { replayFrames } from './replay-frames.ts'
import type { IngestRates } from './relay-ingest-modes.ts'

type RefCid = Parameters<MST['add']>[1]
type Op = { action: 'create' | 'update' | 'delete'; path: string; cid: RefCid | null; prev?: RefCid }
type Body = { repo: string; rev: string; since: string | null; commit: RefCid; blocks: Uint8Array; ops: Op[]; prevData?: RefCid; seq: number }
type Account = { rev: string; data: string }

class ReferencePipeline {
  readonly #keys: ReadonlyMap<string, string>
  readonly #accounts = new Map<string, Account>()
  readonly #db: Level<string, Uint8Array>
  #seq = 0
  #pending: { key: string; value: Uint8Array }[] = []
  #writing: Promise<void> | null = null

  constructor(keys: ReadonlyMap<string, string>, db: Level<string, Uint8Array>) {
    this.#keys = keys
    this.#db = db
  }

  async handle(frame: Uint8Array): Promise<void> {
    const [header, rest] = decodeFirst(frame, dagCbor.decodeOptions) as [{ op: number; t: string }, Uint8Array]
    if (header.op !== 1 || header.t !== '#commit') throw new Error(`not a #commit frame: ${JSON.stringify(header)}`)
    const body = dagCbor.decode(rest) as Body
    const key = this.#keys.get(body.repo)
    if (key === undefined) throw new Error(`unknown DID ${body.repo}`)
    const car = await readCarWithRoot(body.blocks)
    if (!car.root.equals(body.commit)) throw new Error('CAR root is not the commit')
    const { obj: commit } = await getAndParseByDef(car.blocks, car.root, def.commit)
    if (commit.did !== body.repo || commit.rev !== body.rev) throw new Error('commit does not match the event')
    if (!(await verifyCommitSig(commit, key))) throw new Error('bad commit signature')
    const before = this.#accounts.get(body.repo)
    if (body.prevData === undefined) throw new Error('no prevData')
    if (before !== undefined && (body.since !== before.rev || body.prevData.toString() !== before.data)) throw new Error('chain broken')
    let tree = MST.load(new MemoryBlockstore(car.blocks), commit.data)
    for (const op of body.ops) {
      if (op.action === 'create') tree = await tree.delete(op.path)
      else if (op.action === 'update') tree = await tree.update(op.path, op.prev!)
      else tree = await tree.add(op.path, op.prev!)
    }
    if (!(await tree.getPointer()).equals(body.prevData)) throw new Error('inversion does not give prevData')
    const account = { rev: body.rev, data: commit.data.toString() }
    this.#accounts.set(body.repo, account)
    this.#append(body, header, account)
  }

  #append(body: Body, header: { op: number; t: string }, account: Account): void {
    const seq = ++this.#seq
    const bytes = Buffer.concat([dagCbor.encode(header), dagCbor.encode({ ...body, seq })])
    this.#pending.push({ key: `e${String(seq).padStart(16, '0')}`, value: bytes })
    this.#pending.push({ key: `a${body.repo}`, value: Buffer.from(JSON.stringify(account)) })
    this.#writing ??= this.#writeLoop()
  }

  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending
      this.#pending = []
      await this.#db.batch(batch.map((p) => ({ type: 'put' as const, ...p })), { sync: true })
    }
    this.#writing = null
  }

  async flush(): Promise<number> {
    while (this.#writing !== null) await this.#writing
    return this.#seq
  }
}

async function withPipeline(keys: ReadonlyMap<string, string>, run: (pipeline: ReferencePipeline) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-relay-bench-ref-'))
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  try {
    await run(new ReferencePipeline(keys, db))
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function rates(commits: number, ms: number, cpu: NodeJS.CpuUsage): IngestRates {
  return { perSecond: (commits * 1000) / ms, cpuUsPerCommit: (cpu.user + cpu.system) / commits }
}

/** Frames from memory; the first `warmUp` go through a separate pipeline first (JIT), untimed. */
export async function referenceInProcess(frames: readonly Uint8Array[], keys: ReadonlyMap<string, string>, warmUp: number): Promise<IngestRates> {
  await withPipeline(keys, async (pipeline) => {
    for (const frame of frames.slice(0, warmUp)) await pipeline.handle(frame)
    await pipeline.flush()
  })
  let result!: IngestRates
  await withPipeline(keys, async (pipeline) => {
    const cpu = process.cpuUsage()
    const start = performance.now()
    for (const frame of frames) await pipeline.handle(frame)
    const sequenced = await pipeline.flush()
    if (sequenced !== frames.length) throw new Error(`sequenced ${sequenced} of ${frames.length}`)
    result = rates(frames.length, performance.now() - start, process.cpuUsage(cpu))
  })
  return result
}

/** Frames 1..`count` from the scripted host at `origin`, handled one at a time as they arrive. */
export async function referenceOverWebSocket(origin: string, count: number, keys: ReadonlyMap<string, string>): Promise<IngestRates> {
  let result!: IngestRates
  await withPipeline(keys, async (pipeline) => {
    const cpu = process.cpuUsage()
    const start = performance.now()
    await replayFrames(origin, count, (frame) => pipeline.handle(frame))
    await pipeline.flush()
    result = rates(count, performance.now() - start, process.cpuUsage(cpu))
  })
  return result
}
