/**
 * `atfed account recovery-key show --did DID [--plc URL] [--key-file FILE] [--json]`:
 * the DID's current PLC rotation keys, highest priority first, each marked
 * `you` (it is the public half of the key in --key-file), `pds` or `other`.
 *
 * Which key is the PDS's is not published anywhere without a session, so it
 * is INFERRED from the PLC log (and said so): take the op at which
 * `atproto_pds` last changed to its current endpoint; for a genesis op the
 * PDS's key is the one that signed it (a PDS signs the genesis of the
 * accounts it creates); for a later op it is the keys that op ADDED (a
 * migration or a recovery adds the new PDS's key; a recovery is signed by
 * the user's key, a migration by the old PDS's), or else its signer. Only
 * keys still in the current list, other than the user's, are marked.
 */
import { AtfedError } from '../../core/errors.ts'
import { parseDid, type Did } from '../../core/syntax/did.ts'
import { PlcClient } from '../../did-resolver/plc/client.ts'
import { verifyOpSignature } from '../../did-resolver/plc/op-builder.ts'
import { plcStateOf, type PlcOp, type PlcStateOp } from '../../did-resolver/plc/operation.ts'
import { readRecoveryKeyFile } from './key-file.ts'

export type RotationKeyHolder = 'you' | 'pds' | 'other'
export type RotationKeyRow = { index: number; key: string; holder: RotationKeyHolder }
export type RotationKeysView = { did: Did; pds: string | null; rotationKeys: RotationKeyRow[] }

function stateOps(log: readonly PlcOp[]): PlcStateOp[] {
  const last = log[log.length - 1]
  if (last === undefined) throw new AtfedError('DidNotFound', 'the DID has no operations')
  if (last.type === 'plc_tombstone') throw new AtfedError('DidTombstoned', 'the DID is tombstoned')
  return log.filter((op): op is PlcStateOp => op.type !== 'plc_tombstone')
}

function endpointOf(op: PlcStateOp): string | null {
  return plcStateOf(op).services['atproto_pds']?.endpoint ?? null
}

/** The PDS's rotation keys as far as the log tells (see the module header). */
export function inferPdsKeys(log: readonly PlcOp[], userKey: string | null): Set<string> {
  const ops = stateOps(log)
  const current = plcStateOf(ops[ops.length - 1]!)
  const endpoint = endpointOf(ops[ops.length - 1]!)
  let at = ops.length - 1
  while (at > 0 && endpointOf(ops[at - 1]!) === endpoint) at--
  const op = ops[at]!
  const prevKeys = at === 0 ? plcStateOf(op).rotationKeys : plcStateOf(ops[at - 1]!).rotationKeys
  const signer = verifyOpSignature(op, prevKeys)
  const added = at === 0 ? [] : plcStateOf(op).rotationKeys.filter((key) => !prevKeys.includes(key) && key !== userKey)
  const candidates = added.length > 0 ? added : signer === null ? [] : [signer]
  return new Set(candidates.filter((key) => key !== userKey && current.rotationKeys.includes(key)))
}

export function viewRotationKeys(did: Did, log: readonly PlcOp[], userKey: string | null): RotationKeysView {
  const ops = stateOps(log)
  const last = ops[ops.length - 1]!
  const pdsKeys = inferPdsKeys(log, userKey)
  const rotationKeys = plcStateOf(last).rotationKeys.map((key, index): RotationKeyRow => {
    const holder: RotationKeyHolder = key === userKey ? 'you' : pdsKeys.has(key) ? 'pds' : 'other'
    return { index, key, holder }
  })
  return { did, pds: endpointOf(last), rotationKeys }
}

function render(view: RotationKeysView, keyFile: string | undefined): string {
  const lines = [`${view.did}: rotation keys, highest priority first (PDS ${view.pds ?? 'none'})`]
  for (const row of view.rotationKeys) {
    const mark = row.holder === 'you' ? `  <- yours (${keyFile ?? 'key file'})` : row.holder === 'pds' ? '  <- the PDS (inferred from the PLC log)' : ''
    lines.push(`  ${row.index}  ${row.key}${mark}`)
  }
  if (!view.rotationKeys.some((row) => row.holder === 'you') && keyFile !== undefined) {
    lines.push(`  the key in ${keyFile} is NOT a rotation key of this DID`)
  }
  return lines.join('\n') + '\n'
}

export async function showRecoveryKeys(opts: { did: string; plc: string; keyFile?: string; json?: boolean }): Promise<string> {
  const did = parseDid(opts.did)
  const userKey = opts.keyFile === undefined ? null : readRecoveryKeyFile(opts.keyFile).keypair.publicKey.didKey
  const view = viewRotationKeys(did, await new PlcClient(opts.plc).getLog(did), userKey)
  return opts.json === true ? `${JSON.stringify(view)}\n` : render(view, opts.keyFile)
}
