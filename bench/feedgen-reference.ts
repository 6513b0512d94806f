/**
 * A reference-style feed indexer for the `feedgen` bench section's ratios,
 * built from the libraries the official TypeScript feed generator template
 * uses (its `subscribeRepos` + `getOpsByType` path), over the same recorded
 * frames as ours. Per frame, in order, one at a time, one thread:
 *   1. decode: header then body with @ipld/dag-cbor (cborg `decodeFirst`
 *      with dag-cbor's strict options, then `decode`);
 *   2. CAR: @atproto/repo `readCarWithRoot` (re-hashes every block);
 *   3. with verification: the commit parsed by `def.commit`,
 *      `verifyCommitSig` with the key from a warm DID cache (a Map), and the
 *      ops undone on @atproto/repo's MST loaded from the event's blocks (the
 *      root must be `prevData`), as our consumer's `verify` checks;
 *   4. each op of the four indexed collections: its record block decoded by
 *      `cborToLexRecord`, and the same rows ours writes (JSON row by at-uri,
 *      author/term/liketime/follows entries; a delete reads the row and
 *      removes them), with the cursor, in one level batch per event.
 * It trusts the record fields (no lexicon checks beyond what it reads),
 * which is what the template does.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore, MST, cborToLexRecord, def, getAndParseByDef, readCarWithRoot, verifyCommitSig } from '@atproto/repo'
import { decodeFirst } from 'cborg'
import { Level } from 'level'
import { replayFrames } from './replay-frames.ts'

type RefCid = Parameters<MST['add']>[1]
type Op = { action: 'create' | 'update' | 'delete'; path: string; cid: RefCid | null; prev?: RefCid }
type Body = { repo: string; rev: string; commit: RefCid; blocks: Uint8Array; ops: Op[]; prevData?: RefCid; seq: number; time: string }
type Put = { type: 'put' | 'del'; key: string; value?: string }

const SEP = '\u0000'
const time = (ms: number): string => String(Math.max(0, ms)).padStart(15, '0')
const WORD = /#?[\p{L}\p{N}_]+/gu

function rowsFor(collection: string, uri: string, did: string, record: Record<string, any>): Put[] {
  const at = time(Date.parse(String(record['createdAt'])) || 0)
  switch (collection) {
    case 'app.bsky.feed.post': {
      const terms = [...new Set(String(record['text']).toLowerCase().match(WORD) ?? [])].slice(0, 64)
      const row = JSON.stringify({ text: record['text'], createdAt: record['createdAt'], terms, at })
      return [{ type: 'put', key: `post${SEP}${uri}`, value: row }, { type: 'put', key: `author${SEP}${did}${SEP}${at}${SEP}${uri}`, value: '' },
        ...terms.map((t): Put => ({ type: 'put', key: `term${SEP}${t}${SEP}${at}${SEP}${uri}`, value: '' }))]
    }
    case 'app.bsky.feed.like':
      return [{ type: 'put', key: `like${SEP}${uri}`, value: JSON.stringify({ subject: record['subject'].uri, at }) }, { type: 'put', key: `liketime${SEP}${at}${SEP}${uri}`, value: record['subject'].uri }]
    case 'app.bsky.feed.repost':
      return [{ type: 'put', key: `repost${SEP}${uri}`, value: JSON.stringify({ subject: record['subject'].uri, at }) }, { type: 'put', key: `author${SEP}${did}${SEP}${at}${SEP}${uri}`, value: record['subject'].uri }]
    default:
      return [{ type: 'put', key: `follow${SEP}${uri}`, value: JSON.stringify({ subject: record['subject'] }) }, { type: 'put', key: `follows${SEP}${did}${SEP}${uri}`, value: record['subject'] }]
  }
}

const KINDS: Record<string, string> = { 'app.bsky.feed.post': 'post', 'app.bsky.feed.like': 'like', 'app.bsky.feed.repost': 'repost', 'app.bsky.graph.follow': 'follow' }

class ReferenceIndexer {
  constructor(
    readonly db: Level<string, string>,
    readonly keys: ReadonlyMap<string, string> | null,
  ) {}

  async handle(frame: Uint8Array): Promise<void> {
    const [header, rest] = decodeFirst(frame, dagCbor.decodeOptions) as [{ op: number; t: string }, Uint8Array]
    const body = dagCbor.decode(rest) as Body
    if (header.t !== '#commit') return await this.db.put('cursor', String(body.seq))
    const car = await readCarWithRoot(body.blocks)
    if (this.keys !== null) await this.#verify(body, car)
    const batch: Put[] = []
    for (const op of body.ops) {
      const [collection = '', rkey] = op.path.split('/')
      const kind = KINDS[collection]
      if (kind === undefined) continue
      const uri = `at://${body.repo}/${collection}/${rkey}`
      if (op.action !== 'create') batch.push(...(await this.#removal(kind, uri)))
      if (op.action === 'delete' || op.cid === null) continue
      const block = car.blocks.get(op.cid)
      if (block === undefined) continue
      batch.push(...rowsFor(collection, uri, body.repo, cborToLexRecord(block) as Record<string, any>))
    }
    batch.push({ type: 'put', key: 'cursor', value: String(body.seq) })
    await this.db.batch(batch as never)
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

  async #removal(kind: string, uri: string): Promise<Put[]> {
    const text = await this.db.get(`${kind}${SEP}${uri}`)
    if (text === undefined) return []
    const row = JSON.parse(text) as { at?: string; terms?: string[]; subject?: string }
    const did = uri.split('/')[2]!
    const out: Put[] = [{ type: 'del', key: `${kind}${SEP}${uri}` }]
    if (kind === 'like') out.push({ type: 'del', key: `liketime${SEP}${row.at}${SEP}${uri}` })
    if (kind === 'follow') out.push({ type: 'del', key: `follows${SEP}${did}${SEP}${uri}` })
    if (kind === 'post' || kind === 'repost') out.push({ type: 'del', key: `author${SEP}${did}${SEP}${row.at}${SEP}${uri}` })
    for (const term of row.terms ?? []) out.push({ type: 'del', key: `term${SEP}${term}${SEP}${row.at}${SEP}${uri}` })
    return out
  }
}

/** Events 1..`count` from the scripted host at `origin`, from cursor 0, handled in order; events/s. */
export async function referenceReplay(origin: string, count: number, keys: ReadonlyMap<string, string> | null): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'atfed-feedgen-bench-ref-'))
  const db = new Level<string, string>(dir)
  try {
    const indexer = new ReferenceIndexer(db, keys)
    const { ms } = await replayFrames(origin, count, (frame) => indexer.handle(frame))
    return count / (ms / 1000)
  } finally {
    await db.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
