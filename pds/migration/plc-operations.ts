/**
 * The PLC side of a migration: what the new PDS recommends, the old PDS
 * signing the update, the new PDS submitting it.
 *
 * `recommendedCredentials` (getRecommendedDidCredentials, new PDS): PLC
 * field shapes — our rotation key, `at://<handle>`, `#atproto` = the
 * account's signing key here, `atproto_pds` = our public URL.
 *
 * `signPlcUpdate` (signPlcOperation, old PDS; the token is checked by the
 * caller): fetches the DID's last op (a tombstone or a DID whose rotation
 * keys lack ours → `InvalidRequest`), builds a `plc_operation` whose
 * omitted fields are copied from it — a given `verificationMethods` or
 * `services` REPLACES the whole map, as the reference — with `prev` = its
 * CID, signs it with our rotation key and runs the directory's own parser
 * over it (bad keys, shapes, sizes → `InvalidRequest`). It does not submit.
 *
 * `submitPlcUpdate` (submitPlcOperation, new PDS; reference checks, spec
 * digest §5.2): a regular op that keeps our rotation key, names us as
 * `atproto_pds` (exact URL) with the account's signing key here, and whose
 * first alias is the account's handle — each failure `InvalidRequest`.
 * Then the op goes to PLC (its refusal keeps the directory's error name, a
 * transport failure is 502 `UpstreamFailure`) and `#identity{handle}` is
 * sequenced; the identity cache entry is refreshed in the background.
 */
import { AtfedError } from '../../core/errors.ts'
import type { Did } from '../../core/syntax/did.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'
import { signOp } from '../../did-resolver/plc/op-builder.ts'
import { cidForOp, parsePlcOp, plcStateOf, type PlcOperation, type UnsignedPlcOperation } from '../../did-resolver/plc/operation.ts'
import type { Account } from '../accounts/account.ts'
import type { PdsContext } from '../context.ts'
import { identityEvent } from '../sequencer.ts'

const PDS_SERVICE_TYPE = 'AtprotoPersonalDataServer'
/** PLC client errors that mean "no usable answer" rather than "the directory said no". */
const TRANSPORT_ERRORS = new Set(['PlcTimeout', 'PlcUnavailable', 'ResponseTooLarge', 'InvalidPlcResponse', 'PlcRequestFailed'])

export type RecommendedCredentials = {
  rotationKeys: string[]
  alsoKnownAs: string[]
  verificationMethods: { atproto: string }
  services: { atproto_pds: { type: string; endpoint: string } }
}

export function recommendedCredentials(ctx: PdsContext, account: Account): RecommendedCredentials {
  return {
    rotationKeys: [ctx.rotationKey.publicKey.didKey],
    alsoKnownAs: [`at://${account.handle}`],
    verificationMethods: { atproto: ctx.signingKeys.get(account).publicKey.didKey },
    services: { atproto_pds: { type: PDS_SERVICE_TYPE, endpoint: ctx.publicUrl } },
  }
}

/** A PLC call, with transport failures as 502 and the directory's refusals as they came. */
async function plcCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    if (err instanceof AtfedError && TRANSPORT_ERRORS.has(err.name)) {
      throw new XrpcError(502, 'UpstreamFailure', `PLC directory: ${what}: ${err.message}`, { cause: err })
    }
    throw err
  }
}

export type PlcUpdateInput = {
  rotationKeys?: unknown
  alsoKnownAs?: unknown
  verificationMethods?: unknown
  services?: unknown
}

export async function signPlcUpdate(ctx: PdsContext, did: Did, input: PlcUpdateInput): Promise<PlcOperation> {
  const last = await plcCall('reading the last operation', () => ctx.plc.getLastOp(did))
  if (last.type === 'plc_tombstone') throw new AtfedError('InvalidRequest', 'Did is tombstoned')
  const state = plcStateOf(last)
  if (!state.rotationKeys.includes(ctx.rotationKey.publicKey.didKey)) {
    throw new AtfedError('InvalidRequest', "this PDS's rotation key is not one of the DID's rotation keys")
  }
  const unsigned = {
    type: 'plc_operation',
    rotationKeys: input.rotationKeys ?? state.rotationKeys,
    verificationMethods: input.verificationMethods ?? state.verificationMethods,
    alsoKnownAs: input.alsoKnownAs ?? state.alsoKnownAs,
    services: input.services ?? state.services,
    prev: cidForOp(last).toString(),
  } as UnsignedPlcOperation
  try {
    const op = parsePlcOp(signOp(unsigned, ctx.rotationKey))
    if (op.type !== 'plc_operation') throw new AtfedError('InvalidOperation', 'not a plc_operation')
    return op
  } catch (err) {
    if (err instanceof AtfedError) throw new AtfedError('InvalidRequest', `Invalid PLC operation: ${err.message}`, { cause: err })
    throw err
  }
}

function parseSubmitted(input: unknown): PlcOperation {
  let op
  try {
    op = parsePlcOp(input)
  } catch (err) {
    throw new AtfedError('InvalidRequest', `Invalid operation: ${(err as Error).message}`, { cause: err })
  }
  if (op.type !== 'plc_operation') throw new AtfedError('InvalidRequest', 'Invalid operation: must be a plc_operation')
  return op
}

/** Throws `InvalidRequest` unless `op` hands the DID to this PDS and this account's key. */
export function checkOpPointsHere(ctx: PdsContext, account: Account, op: PlcOperation): void {
  const fail = (message: string) => new AtfedError('InvalidRequest', message)
  if (!op.rotationKeys.includes(ctx.rotationKey.publicKey.didKey)) throw fail("Rotation keys do not include server's rotation key")
  const pds = op.services['atproto_pds']
  if (pds?.type !== PDS_SERVICE_TYPE) throw fail('Incorrect type on atproto_pds service')
  if (pds.endpoint !== ctx.publicUrl) throw fail('Incorrect endpoint on atproto_pds service')
  if (op.verificationMethods['atproto'] !== ctx.signingKeys.get(account).publicKey.didKey) throw fail('Incorrect signing key')
  if (op.alsoKnownAs[0] !== `at://${account.handle}`) throw fail('Incorrect handle in alsoKnownAs')
}

export async function submitPlcUpdate(ctx: PdsContext, account: Account, input: unknown): Promise<void> {
  const op = parseSubmitted(input)
  checkOpPointsHere(ctx, account, op)
  await plcCall('submitting the operation', () => ctx.plc.submitOp(account.did, op))
  await ctx.writer.storeWithEvents([], [identityEvent(account.did, account.handle)])
  ctx.idResolver.refresh(account.did).catch(() => undefined)
}
