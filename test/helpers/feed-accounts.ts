/**
 * Accounts for feed and consumer tests: a DID registered in our PLC (test
 * server) with its `#atproto` signing key, and a repo in memory that turns
 * writes into real signed `#commit` events (core/repo/writes.ts
 * `applyWrites`), ready for a FirehoseSource. Handles end in `.invalid`, so
 * resolving an identity never touches DNS.
 */
import type { CID } from '../../core/data/cid.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import { commitEventFor } from '../../core/stream/commit-event.ts'
import type { UnsequencedEvent } from '../../core/stream/events.ts'
import { formatAtUri, parseAtUri } from '../../core/syntax/at-uri.ts'
import type { AtUriString } from '../../core/syntax/at-uri.ts'
import { datetimeFromDate } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import type { RecordKey } from '../../core/syntax/record-key.ts'
import { createGenesisOp, createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import type { PlcOperation } from '../../did-resolver/plc/operation.ts'
import { postOp } from './plc.ts'
import { MemoryRepo } from './repo-writes.ts'

export type StrongRef = { uri: AtUriString; cid: CID }
export type Written = StrongRef & { event: UnsequencedEvent }

const POST = parseNsid('app.bsky.feed.post')
const LIKE = parseNsid('app.bsky.feed.like')
const REPOST = parseNsid('app.bsky.feed.repost')
const FOLLOW = parseNsid('app.bsky.graph.follow')

/** The `#commit` event of an applyWrites result (seq is the source's). */
export function commitEventOf(did: Did, result: CommitResult, time = new Date()): UnsequencedEvent {
  return commitEventFor(did, result, datetimeFromDate(time))
}

export class TestAccount {
  readonly repo: MemoryRepo
  readonly #rkeys = new TidClock()
  #lastOp: PlcOperation

  private constructor(
    readonly did: Did,
    readonly handle: string,
    readonly rotationKey: Keypair,
    signingKey: Keypair,
    genesis: PlcOperation,
  ) {
    this.repo = new MemoryRepo(did, signingKey)
    this.#lastOp = genesis
  }

  static async register(plcUrl: string, name: string): Promise<TestAccount> {
    const signingKey = generateKeypair('k256')
    const rotationKey = generateKeypair('p256')
    const handle = `${name}.invalid`
    const g = createGenesisOp({
      signingKey: signingKey.publicKey.didKey,
      rotationKeys: [rotationKey.publicKey.didKey],
      handle,
      pds: 'https://pds.invalid',
      signer: rotationKey,
    })
    const res = await postOp(plcUrl, g.did, g.op)
    if (res.status !== 200) throw new Error(`PLC refused ${name}: ${JSON.stringify(res.body)}`)
    return new TestAccount(g.did, handle, rotationKey, signingKey, g.op)
  }

  get signingKey(): Keypair {
    return this.repo.keypair
  }

  /** Rotate the `#atproto` key in PLC; later commits are signed with the new key. */
  async rotateSigningKey(plcUrl: string): Promise<void> {
    const next = generateKeypair('k256')
    const u = createUpdateOp(this.#lastOp, { signer: this.rotationKey, signingKey: next.publicKey.didKey })
    const res = await postOp(plcUrl, this.did, u.op)
    if (res.status !== 200) throw new Error(`PLC refused the rotation: ${JSON.stringify(res.body)}`)
    this.#lastOp = u.op
    this.repo.keypair = next
  }

  /** Apply writes; returns the commit and its event (signed by `signer`, default the account's key). */
  commit(writes: RepoWrite[], options: { time?: Date; signer?: Keypair } = {}): { result: CommitResult; event: UnsequencedEvent } {
    const own = this.repo.keypair
    if (options.signer !== undefined) this.repo.keypair = options.signer
    try {
      const result = this.repo.apply(writes)
      return { result, event: commitEventOf(this.did, result, options.time) }
    } finally {
      this.repo.keypair = own
    }
  }

  create(collection: string, record: LexMap, options: { time?: Date; signer?: Keypair } = {}): Written {
    const nsid = parseNsid(collection)
    const rkey = this.#rkeys.next() as string as RecordKey
    const { result, event } = this.commit([{ action: 'create', collection: nsid, rkey, record: { $type: collection, ...record } }], options)
    const op = result.ops[0]
    if (op?.cid == null) throw new Error('create produced no op')
    return { uri: formatAtUri({ authority: this.did, collection: nsid, rkey }), cid: op.cid, event }
  }

  post(text: string, extra: LexMap = {}, options: { time?: Date } = {}): Written {
    const createdAt = (options.time ?? new Date()).toISOString()
    return this.create(POST, { text, createdAt, ...extra }, options)
  }

  like(subject: StrongRef, options: { time?: Date } = {}): Written {
    return this.create(LIKE, { subject: { uri: subject.uri, cid: subject.cid.toString() }, createdAt: (options.time ?? new Date()).toISOString() }, options)
  }

  repost(subject: StrongRef, options: { time?: Date } = {}): Written {
    return this.create(REPOST, { subject: { uri: subject.uri, cid: subject.cid.toString() }, createdAt: (options.time ?? new Date()).toISOString() }, options)
  }

  follow(subject: Did): Written {
    return this.create(FOLLOW, { subject, createdAt: new Date().toISOString() })
  }

  delete(uri: string): UnsequencedEvent {
    const parsed = parseAtUri(uri)
    if (parsed.collection === undefined || parsed.rkey === undefined) throw new Error(`not a record uri: ${uri}`)
    return this.commit([{ action: 'delete', collection: parsed.collection, rkey: parsed.rkey }]).event
  }
}

export { POST, LIKE, REPOST, FOLLOW }
