/**
 * A reference-style labeler for the `labeler` bench section's ratios, built
 * from the libraries the official TypeScript stack uses (what Ozone-style
 * and small community labelers are made of), over the same recorded frames
 * as ours. Per frame, in order, one at a time, one thread:
 *   1. decode with @ipld/dag-cbor (cborg `decodeFirst`, then `decode`);
 *   2. CAR with @atproto/repo `readCarWithRoot`; with verification,
 *      `verifyCommitSig` (key from a warm Map) and the ops undone on
 *      @atproto/repo's MST (root must be `prevData`), as ours checks;
 *   3. each created post: record by `cborToLexRecord`, every text rule's
 *      RegExp tested in this thread; a listed account labeled once;
 *   4. each label: the DAG-CBOR of the unsigned label (@ipld/dag-cbor)
 *      signed by an @atproto/crypto Secp256k1Keypair, and stored with the
 *      next seq and the cursor in one level batch, fsync'd.
 * `referenceManual`: one label per call, 16 calls in flight, each signed and
 * written in its own fsync'd batch (no group commit).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Secp256k1Keypair } from '@atproto/crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore, MST, cborToLexRecord, def, getAndParseByDef, readCarWithRoot, verifyCommitSig } from '@atproto/repo'
import { decodeFirst } from 'cborg'
import { Level } from 'level'
import { replayFrames } from './replay-frames.ts'

type RefCid = Parameters<MST['add']>[1]
type Op = { action: 'create' | 'update' | 'delete'; path: string; cid: RefCid | null; prev?: RefCid }
type Body = { repo: string; commit: RefCid; blocks: Uint8Array; ops: Op[]; prevData?: RefCid; seq: number }
export type ReferenceRules = { text: Array<{ pattern: string; flags: string; val: string }>; accounts: Map<string, string[]> }
type Unsigned = { ver: 1; src: string; uri: string; cid?: string; val: string; cts: string }

class ReferenceLabeler {
  #seq = 0
  labels = 0
  /** Account labels are emitted once per account (as ours: a label already present is not written again). */
  readonly #accountsLabeled = new Set<string>()
  readonly #regexes: Array<{ re: RegExp; val: string }>

  constructor(
    readonly db: Level<string, Uint8Array>,
    readonly key: Secp256k1Keypair,
    readonly rules: ReferenceRules,
    readonly keys: ReadonlyMap<string, string> | null,
  ) {
    this.#regexes = rules.text.map((r) => ({ re: new RegExp(r.pattern, r.flags), val: r.val }))
  }

  async sign(label: Omit<Unsigned, 'ver' | 'src' | 'cts'>): Promise<Uint8Array> {
    const unsigned: Unsigned = { ver: 1, src: this.key.did(), uri: label.uri, ...(label.cid === undefined ? {} : { cid: label.cid }), val: label.val, cts: new Date().toISOString() }
    const sig = await this.key.sign(dagCbor.encode(unsigned))
    return dagCbor.encode({ ...unsigned, sig })
  }

  async handle(frame: Uint8Array): Promise<void> {
    const [header, rest] = decodeFirst(frame, dagCbor.decodeOptions) as [{ t: string }, Uint8Array]
    const body = dagCbor.decode(rest) as Body
    if (header.t !== '#commit') return
    const car = await readCarWithRoot(body.blocks)
    if (this.keys !== null) await this.#verify(body, car)
    const wanted: Array<Omit<Unsigned, 'ver' | 'src' | 'cts'>> = []
    if (!this.#accountsLabeled.has(body.repo)) {
      for (const val of this.rules.accounts.get(body.repo) ?? []) wanted.push({ uri: body.repo, val })
      this.#accountsLabeled.add(body.repo)
    }
    for (const op of body.ops) {
      if (op.action !== 'create' || op.cid === null || !op.path.startsWith('app.bsky.feed.post/')) continue
      const block = car.blocks.get(op.cid)
      if (block === undefined) continue
      const text = String((cborToLexRecord(block) as { text?: unknown }).text ?? '')
      for (const { re, val } of this.#regexes) if (re.test(text)) wanted.push({ uri: `at://${body.repo}/${op.path}`, cid: op.cid.toString(), val })
    }
    const batch: Array<{ type: 'put'; key: string; value: Uint8Array }> = []
    for (const label of wanted) batch.push({ type: 'put', key: `l${String(++this.#seq).padStart(16, '0')}`, value: await this.sign(label) })
    batch.push({ type: 'put', key: 'cursor', value: new TextEncoder().encode(String(body.seq)) })
    await this.db.batch(batch, { sync: true })
    this.labels += wanted.length
  }

  async #verify(body: Body, car: Awaited<ReturnType<typeof readCarWithRoot>>): Promise<void> {
    const { obj: commit } = await getAndParseByDef(car.blocks, car.root, def.commit)
    if (!(await verifyCommitSig(commit, this.keys!.get(body.repo)!))) throw new Error('bad commit signature')
    let tree = MST.load(new MemoryBlockstore(car.blocks), commit.data)
    for (const op of body.ops) {
      if (op.action === 'create') tree = await tree.delete(op.path)
      else if (op.action === 'update') tree = await tree.update(op.path, op.prev!)
      else tree = await tree.add(op.path, op.prev!)
    }
    if (body.prevData !== undefined && !(await tree.getPointer()).equals(body.prevData)) throw new Error('inversion does not give prevData')
  }

  async manual(uri: string, val: string): Promise<void> {
    const value = await this.sign({ uri, val })
    await this.db.batch([{ type: 'put', key: `l${String(++this.#seq).padStart(16, '0')}`, value }], { sync: true })
  }
}

async function withLabeler<T>(rules: ReferenceRules, keys: ReadonlyMap<string, string> | null, fn: (l: ReferenceLabeler) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-labeler-bench-ref-'))
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
  try {
    return await fn(new ReferenceLabeler(db, await Secp256k1Keypair.create(), rules, keys))
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Events 1..`count` from the scripted host at `origin`, from cursor 0; events/s and labels written. */
export async function referenceRuleReplay(origin: string, count: number, rules: ReferenceRules, keys: ReadonlyMap<string, string> | null): Promise<{ perSecond: number; labels: number }> {
  return await withLabeler(rules, keys, async (labeler) => {
    const { ms } = await replayFrames(origin, count, (frame) => labeler.handle(frame))
    return { perSecond: count / (ms / 1000), labels: labeler.labels }
  })
}

/** `count` manual labels, `inFlight` at once; labels/s. */
export async function referenceManual(count: number, inFlight: number, uriOf: (n: number) => string): Promise<number> {
  return await withLabeler({ text: [], accounts: new Map() }, null, async (labeler) => {
    let next = 0
    const start = performance.now()
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < count) await labeler.manual(uriOf(next++), 'manual')
      }),
    )
    return (count * 1000) / (performance.now() - start)
  })
}
