/**
 * com.atproto.repo.*: the record writes (createRecord, putRecord,
 * deleteRecord, applyWrites) and reads (getRecord, listRecords,
 * describeRepo). Blob upload, importRepo and listMissingBlobs are other
 * modules.
 *
 * Writes: the caller's own repo, an active account (401 `AccountTakedown` /
 * `AccountDeactivated`), records prepared by repo/prepare.ts, then ONE
 * call to `ctx.writer.write` (writes.ts), which is where `InvalidSwap`,
 * no-op puts and the firehose event happen. A put of the identical record
 * and a delete of a missing record answer 200 without `commit`, as the
 * reference. applyWrites takes at most COMMIT_OPS_MAX writes (400
 * `InvalidRequest`) and answers one result per write, in order.
 */
import { AtfedError } from '../../core/errors.ts'
import type { CID } from '../../core/data/cid.ts'
import { COMMIT_OPS_MAX, PDS_LIST_RECORDS_LIMIT_MAX, RATE_LIMIT_WRITE_POINTS, XRPC_WRITE_JSON_BODY_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { XrpcHandlerContext, XrpcRouter } from '../../core/xrpc/server.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { rawJsonInput } from '../lexicon-hooks.ts'
import { perDid } from '../rate-limits.ts'
import { parseCollection, parseRkey, parseSwapCid, prepareRecord, resolveWriteRepo, type ValidationStatus } from '../repo/prepare.ts'
import { findLocalAccount, listCollections, listRecordPage, loadRepo, readRecordJson } from '../repo/read.ts'
import type { PdsWrite, WriteOutcome } from '../writes.ts'

type Body = { [key: string]: unknown }
type WriteCtx = XrpcHandlerContext<AccessCredentials, unknown>

function json(body: Body): { encoding: 'application/json'; body: Body } {
  return { encoding: 'application/json', body }
}

function commitView(outcome: WriteOutcome): Body {
  return outcome.commit === null ? {} : { commit: { cid: outcome.commit.cid.toString(), rev: outcome.commit.rev } }
}

function swapCommitOf(body: Body): { swapCommit?: CID } {
  return body['swapCommit'] === undefined ? {} : { swapCommit: parseSwapCid(body['swapCommit'], 'swapCommit') }
}

/** `swapRecord`: absent → no check; JSON null → must not exist. */
function swapRecordOf(body: Body): { swapRecord?: CID | null } {
  if (!('swapRecord' in body) || body['swapRecord'] === undefined) return {}
  return { swapRecord: body['swapRecord'] === null ? null : parseSwapCid(body['swapRecord'], 'swapRecord') }
}

function validateFlag(body: Body): boolean | undefined {
  return typeof body['validate'] === 'boolean' ? body['validate'] : undefined
}

/** Write points for the reference's per-DID write buckets. */
function writePoints(ctx: XrpcHandlerContext<unknown, unknown>): number {
  const body = (ctx.input?.body ?? {}) as Body
  if (ctx.nsid === 'com.atproto.repo.applyWrites') {
    const writes = Array.isArray(body['writes']) ? (body['writes'] as Body[]) : []
    return writes.reduce((sum, w) => sum + (String(w['$type']).endsWith('#create') ? RATE_LIMIT_WRITE_POINTS.create
      : String(w['$type']).endsWith('#update') ? RATE_LIMIT_WRITE_POINTS.update : RATE_LIMIT_WRITE_POINTS.delete), 0)
  }
  if (ctx.nsid === 'com.atproto.repo.deleteRecord') return RATE_LIMIT_WRITE_POINTS.delete
  if (ctx.nsid === 'com.atproto.repo.putRecord') return RATE_LIMIT_WRITE_POINTS.update
  return RATE_LIMIT_WRITE_POINTS.create
}

function writeOptions(ctx: PdsContext) {
  return {
    auth: ctx.auth.access({ checkTakedown: true, checkDeactivated: true }),
    input: { kind: 'json' as const, bytesMax: XRPC_WRITE_JSON_BODY_BYTES_MAX },
    validateInput: rawJsonInput(ctx.lexicons),
    rateLimits: [perDid('repoWriteHour', writePoints), perDid('repoWriteDay', writePoints)],
  }
}

function recordResult(did: Did, path: { collection: string; rkey: string }, cid: CID | null, status: ValidationStatus | undefined): Body {
  const out: Body = { uri: `at://${did}/${path.collection}/${path.rkey}`, cid: cid?.toString() }
  if (status !== undefined) out['validationStatus'] = status
  return out
}

async function writeOne(ctx: PdsContext, call: WriteCtx, action: 'create' | 'put'): Promise<Body> {
  const body = call.input?.body as Body
  const did = await resolveWriteRepo(ctx.accounts, body['repo'], call.auth.did)
  const collection = parseCollection(body['collection'])
  const rkey = parseRkey(body['rkey'])
  const { record, validationStatus } = prepareRecord(ctx.lexicons, { collection, rkey, record: body['record'], validate: validateFlag(body) })
  const write: PdsWrite = action === 'create'
    ? { action, collection, rkey, record }
    : { action, collection, rkey, record, ...swapRecordOf(body) }
  const outcome = await ctx.writer.write(did, [write], swapCommitOf(body))
  const result = outcome.results[0]
  return { ...recordResult(did, { collection, rkey }, result?.cid ?? null, validationStatus), ...commitView(outcome) }
}

function registerWrites(router: XrpcRouter, ctx: PdsContext): void {
  router.procedure<AccessCredentials>('com.atproto.repo.createRecord', async (call) => json(await writeOne(ctx, call, 'create')), writeOptions(ctx))
  router.procedure<AccessCredentials>('com.atproto.repo.putRecord', async (call) => json(await writeOne(ctx, call, 'put')), writeOptions(ctx))
  router.procedure<AccessCredentials>(
    'com.atproto.repo.deleteRecord',
    async (call) => {
      const body = call.input?.body as Body
      const did = await resolveWriteRepo(ctx.accounts, body['repo'], call.auth.did)
      const collection = parseCollection(body['collection'])
      const write: PdsWrite = { action: 'delete', collection, rkey: parseRkey(body['rkey']), ifExists: true, ...swapRecordOf(body) }
      return json(commitView(await ctx.writer.write(did, [write], swapCommitOf(body))))
    },
    writeOptions(ctx),
  )
  router.procedure<AccessCredentials>('com.atproto.repo.applyWrites', async (call) => json(await applyWrites(ctx, call)), writeOptions(ctx))
}

const CREATE = 'com.atproto.repo.applyWrites#create'
const UPDATE = 'com.atproto.repo.applyWrites#update'
const DELETE = 'com.atproto.repo.applyWrites#delete'

async function applyWrites(ctx: PdsContext, call: WriteCtx): Promise<Body> {
  const body = call.input?.body as Body
  const did = await resolveWriteRepo(ctx.accounts, body['repo'], call.auth.did)
  const items = body['writes'] as Body[]
  if (items.length > COMMIT_OPS_MAX) throw new AtfedError('InvalidRequest', `Too many writes. Max: ${COMMIT_OPS_MAX}`)
  const validate = validateFlag(body)
  const statuses: Array<ValidationStatus | undefined> = []
  const writes: PdsWrite[] = items.map((item) => {
    const collection = parseCollection(item['collection'])
    const type = item['$type']
    if (type === DELETE) {
      statuses.push(undefined)
      return { action: 'delete', collection, rkey: parseRkey(item['rkey']) }
    }
    if (type !== CREATE && type !== UPDATE) throw new AtfedError('InvalidRequest', `unknown write type ${String(type)}`)
    const rkey = parseRkey(item['rkey'])
    const prepared = prepareRecord(ctx.lexicons, { collection, rkey, record: item['value'], validate })
    statuses.push(prepared.validationStatus)
    return { action: type === CREATE ? 'create' : 'update', collection, rkey, record: prepared.record }
  })
  const outcome = await ctx.writer.write(did, writes, swapCommitOf(body))
  const results = writes.map((write, i) => {
    const result = outcome.results[i]
    if (write.action === 'delete') return { $type: 'com.atproto.repo.applyWrites#deleteResult' }
    const $type = write.action === 'create' ? 'com.atproto.repo.applyWrites#createResult' : 'com.atproto.repo.applyWrites#updateResult'
    return { $type, ...recordResult(did, write, result?.cid ?? null, statuses[i]) }
  })
  return { ...commitView(outcome), results }
}

function registerReads(router: XrpcRouter, ctx: PdsContext): void {
  router.query('com.atproto.repo.getRecord', async ({ params }) => {
    const p = params as { repo: string; collection: string; rkey: string; cid?: string }
    const account = await findLocalAccount(ctx.accounts, p.repo)
    const uri = `at://${account?.did ?? p.repo}/${p.collection}/${p.rkey}`
    const view = account?.status === 'active' ? loadRepo(ctx.repos, account.did) : null
    const cid = view?.tree.get(`${p.collection}/${p.rkey}`) ?? null
    if (view === null || cid === null || (p.cid !== undefined && cid.toString() !== p.cid)) {
      throw new AtfedError('RecordNotFound', `Could not locate record: ${uri}`)
    }
    return json({ uri, cid: cid.toString(), value: readRecordJson(ctx.repos, view.did, cid) })
  })

  router.query('com.atproto.repo.listRecords', async ({ params }) => {
    const p = params as { repo: string; collection: string; limit?: number; cursor?: string; reverse?: boolean }
    const view = await activeRepo(ctx, p.repo)
    const limit = Math.min(p.limit ?? 50, PDS_LIST_RECORDS_LIMIT_MAX)
    const page = listRecordPage(ctx.repos, view, {
      collection: p.collection,
      limit,
      reverse: p.reverse === true,
      ...(p.cursor === undefined ? {} : { cursor: p.cursor }),
    })
    return json(page.cursor === undefined ? { records: page.records } : { cursor: page.cursor, records: page.records })
  })

  router.query('com.atproto.repo.describeRepo', async ({ params }) => {
    const account = await findLocalAccount(ctx.accounts, (params as { repo: string }).repo)
    const view = await activeRepo(ctx, (params as { repo: string }).repo)
    let identity
    try {
      identity = await ctx.idResolver.resolveDid(view.did)
    } catch (err) {
      throw new AtfedError('InvalidRequest', `Could not resolve DID: ${view.did}`, { cause: err })
    }
    return json({
      handle: account?.handle,
      did: view.did,
      didDoc: identity.doc,
      collections: listCollections(view.tree),
      handleIsCorrect: identity.handle === account?.handle,
    })
  })
}

async function activeRepo(ctx: PdsContext, repo: string) {
  const account = await findLocalAccount(ctx.accounts, repo)
  const view = account?.status === 'active' ? loadRepo(ctx.repos, account.did) : null
  if (view === null) throw new AtfedError('InvalidRequest', `Could not find repo: ${repo}`)
  return view
}

export function registerRepoRoutes(router: XrpcRouter, ctx: PdsContext): void {
  registerWrites(router, ctx)
  registerReads(router, ctx)
}
