/**
 * Accounts for relay tests: a did:plc registered in our test PLC directory
 * whose `#atproto_pds` is a fake host (fake-pds-host.ts) and whose
 * `#atproto` key signs a repo held in memory (repo-writes.ts MemoryRepo over
 * core/repo `applyWrites`, so every `#commit` carries the exact sync-1.1
 * fields: CAR with proofs, ops with prev, since, prevData).
 *
 * Commits are either applied (the repo moves on; getRepo serves it) or
 * detached: built on the current head but not stored, for hostile events
 * (signed with another key, a rev in the future) that must not change what
 * the next honest commit chains to.
 */
import type { Keypair } from '../../core/crypto/keypair.ts'
import { generateKeypair } from '../../core/crypto/keypair.ts'
import { MemoryBlockMap } from '../../core/repo/block-reader.ts'
import { encodeCarBytes } from '../../core/repo/car/writer.ts'
import type { RepoWrite } from '../../core/repo/repo-write.ts'
import { applyWrites, createInitialCommit } from '../../core/repo/writes.ts'
import type { CommitResult } from '../../core/repo/writes.ts'
import { commitEventFor } from '../../core/stream/commit-event.ts'
import type { CommitEvent, UnsequencedEvent } from '../../core/stream/events.ts'
import { datetimeFromDate } from '../../core/syntax/datetime.ts'
import type { Did } from '../../core/syntax/did.ts'
import { TidClock } from '../../core/syntax/tid.ts'
import { createGenesisOp, createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import type { PlcOperation } from '../../did-resolver/plc/operation.ts'
import type { FakePdsHost } from './fake-pds-host.ts'
import { postOp } from './plc.ts'
import { MemoryRepo, writeFor } from './repo-writes.ts'

export type UnsequencedCommit = Omit<CommitEvent, 'seq'>

export type RelayTestAccount = {
  readonly did: Did
  readonly handle: string
  keypair: Keypair
  readonly rotation: Keypair
  readonly repo: MemoryRepo
  host: FakePdsHost
  /** The repo's first commit (since null, no prevData), as a new account's PDS emits it. */
  readonly initial: { event: UnsequencedCommit; result: CommitResult }
  /** `#sync` declaring the repo's current commit. */
  syncEvent(): UnsequencedEvent
  /** A create of a fresh record, applied to the repo. */
  commit(writes?: RepoWrite[]): { event: UnsequencedCommit; result: CommitResult }
  /** Built on the current head but not stored (options: another key, another clock). */
  detached(options?: { keypair?: Keypair; clock?: TidClock; writes?: RepoWrite[] }): { event: UnsequencedCommit; result: CommitResult }
  identityEvent(handle?: string | null): UnsequencedEvent
  accountEvent(active: boolean, status?: string): UnsequencedEvent
  /** Point the DID document at another host (a migration); the repo now lives there. */
  moveTo(host: FakePdsHost): Promise<void>
  /** New signing key in the DID document (and for the next commits). */
  rotateKey(): Promise<void>
}

let counter = 0

export function commitEventOf(did: Did, result: CommitResult, time = new Date()): UnsequencedCommit {
  return commitEventFor(did, result, datetimeFromDate(time))
}

function freshWrites(): RepoWrite[] {
  counter++
  return [writeFor('create', `app.bsky.feed.post/r${Date.now().toString(36)}x${counter}`, { $type: 'app.bsky.feed.post', text: `post ${counter}`, createdAt: '2024-05-01T12:00:00.000Z' })]
}

export async function createRelayTestAccount(plcUrl: string, host: FakePdsHost, handle: string): Promise<RelayTestAccount> {
  const keypair = generateKeypair('k256')
  const rotation = generateKeypair('k256')
  const genesis = createGenesisOp({ signingKey: keypair.publicKey.didKey, rotationKeys: [rotation.publicKey.didKey], handle, pds: host.origin, signer: rotation })
  const posted = await postOp(plcUrl, genesis.did, genesis.op)
  if (posted.status !== 200) throw new Error(`PLC refused the genesis op: ${JSON.stringify(posted.body)}`)
  let lastOp: PlcOperation = genesis.op
  const repo = new MemoryRepo(genesis.did, keypair, new TidClock())
  // Replace the constructor's first commit with one whose event we keep.
  const initialResult = repo.store(createInitialCommit(genesis.did, keypair, { clock: repo.clock }))
  const serve = (on: FakePdsHost): void => void on.repos.set(genesis.did, () => encodeCarBytes(repo.head.commitCid, repo.blocks))
  serve(host)
  const update = async (change: { pds?: string; signingKey?: string }): Promise<void> => {
    const op = createUpdateOp(lastOp, { signer: rotation, ...change })
    const res = await postOp(plcUrl, genesis.did, op.op)
    if (res.status !== 200) throw new Error(`PLC refused the update: ${JSON.stringify(res.body)}`)
    lastOp = op.op
  }
  const account: RelayTestAccount = {
    did: genesis.did,
    handle,
    keypair,
    rotation,
    repo,
    host,
    initial: { event: commitEventOf(genesis.did, initialResult), result: initialResult },
    syncEvent() {
      const { commitCid } = repo.head
      const blocks = encodeCarBytes(commitCid, new MemoryBlockMap().set(commitCid, repo.blocks.get(commitCid) as Uint8Array))
      return { t: '#sync', did: genesis.did, rev: repo.head.rev, blocks, time: datetimeFromDate(new Date()) }
    },
    commit(writes = freshWrites()) {
      const result = repo.apply(writes)
      return { event: commitEventOf(genesis.did, result), result }
    },
    detached(options = {}) {
      const result = applyWrites(repo.head, options.writes ?? freshWrites(), {
        keypair: options.keypair ?? account.keypair,
        did: genesis.did,
        reader: repo.blocks,
        clock: options.clock ?? repo.clock,
      })
      return { event: commitEventOf(genesis.did, result), result }
    },
    identityEvent(h = handle) {
      const event = { t: '#identity' as const, did: genesis.did, time: datetimeFromDate(new Date()), handle: h }
      return event as UnsequencedEvent
    },
    accountEvent(active, status) {
      return { t: '#account', did: genesis.did, time: datetimeFromDate(new Date()), active, status: (status ?? null) as never }
    },
    async moveTo(next) {
      await update({ pds: next.origin })
      account.host.repos.delete(genesis.did)
      account.host = next
      serve(next)
    },
    async rotateKey() {
      const fresh = generateKeypair('k256')
      await update({ signingKey: fresh.publicKey.didKey })
      account.keypair = fresh
      repo.keypair = fresh
    },
  }
  return account
}
