/**
 * com.atproto.sync.getRecord (a proof CAR) and com.atproto.sync.getBlocks
 * (a CAR with no root), plus what getRepo `since` needs: registering this
 * module adds the commit-index write hook (repo/commit-index.ts) that
 * routes/sync.ts reads for a getRepo with `since` (repo/sync-reads.ts).
 *
 * Availability is getRepo's (routes/sync.ts `availableRepo`): unknown or
 * deleted → `RepoNotFound`, taken down → `RepoTakendown`, deactivated →
 * `RepoDeactivated` except for the owner or the admin. getBlocks takes at
 * most PDS_GET_BLOCKS_CIDS_MAX CIDs; a missing one is 400 `BlockNotFound`.
 * A missing record is not an error: getRecord returns the proof of its
 * absence (repo/sync-reads.ts).
 */
import { AtfedError } from '../../core/errors.ts'
import { parseCid } from '../../core/data/cid.ts'
import { PDS_GET_BLOCKS_CIDS_MAX } from '../../core/limits.ts'
import { writeCar } from '../../core/repo/car/writer.ts'
import { parseNsid } from '../../core/syntax/nsid.ts'
import { parseRecordKey } from '../../core/syntax/record-key.ts'
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import type { AccessCredentials, AdminCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { commitIndexHook } from '../repo/commit-index.ts'
import { blocksByCid, recordProofBlocks } from '../repo/sync-reads.ts'
import { availableRepo } from './sync.ts'

type OptionalAuth = AccessCredentials | AdminCredentials | null

const CAR = 'application/vnd.ipld.car'

function cidList(value: unknown): string[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value]
  if (list.length === 0) throw new AtfedError('InvalidRequest', 'cids must name at least one CID')
  if (list.length > PDS_GET_BLOCKS_CIDS_MAX) throw new AtfedError('InvalidRequest', `at most ${PDS_GET_BLOCKS_CIDS_MAX} cids per call`)
  return list.map(String)
}

export function registerSyncExtrasRoutes(router: XrpcRouter, ctx: PdsContext): void {
  const hook = commitIndexHook(ctx)
  ctx.writeHooks.push(hook)
  ctx.cleanups.push(() => hook.drain())

  router.query<OptionalAuth>(
    'com.atproto.sync.getRecord',
    async ({ params, auth }) => {
      const p = params as { did: string; collection: string; rkey: string }
      const { account } = await availableRepo(ctx, p.did, auth)
      const key = `${parseNsid(p.collection)}/${parseRecordKey(p.rkey)}`
      const proof = recordProofBlocks(ctx.repos, account.did, key)
      return { encoding: CAR, body: writeCar(proof.root, proof.blocks) }
    },
    { auth: ctx.auth.optionalAccessOrAdmin() },
  )

  router.query<OptionalAuth>(
    'com.atproto.sync.getBlocks',
    async ({ params, auth }) => {
      const p = params as { did: string; cids?: unknown }
      const cids = cidList(p.cids).map((text) => parseCid(text))
      const { account } = await availableRepo(ctx, p.did, auth)
      const blocks = await blocksByCid(ctx.repos, account.did, cids)
      return { encoding: CAR, body: writeCar(null, blocks) }
    },
    { auth: ctx.auth.optionalAccessOrAdmin() },
  )
}
