/**
 * The write load of the PLC crash target: `clients` writers, each with its
 * own seeded key (rotation and signing key at once). A writer registers a
 * DID (genesis op), then changes its handle OPS_PER_DID - 1 times (updates
 * chained on the previous op's CID), then starts a new DID — staying under
 * the directory's per-DID rate limits (PLC_OPS_PER_HOUR_MAX) however long
 * the run.
 *
 * Each POST ends in `acked` (HTTP 200) or `uncertain` (sent, unanswered:
 * the child was killed under it). A writer whose op is uncertain leaves
 * that DID (its head is unknown until the check reads it) and starts a new
 * one in the next life. Any other answer is a failure of the run.
 */
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import { createGenesisOp, createUpdateOp } from '../../did-resolver/plc/op-builder.ts'
import type { PlcOp, PlcStateOp } from '../../did-resolver/plc/operation.ts'
import type { Load } from './harness.ts'

export const OPS_PER_DID = 4
const PDS_ENDPOINT = 'https://pds.crash.test'

export type AckedOp = { did: Did; cid: string; life: number }

export type PlcLog = {
  readonly acked: AckedOp[]
  /** CIDs of ops in flight at a kill. */
  readonly uncertain: Set<string>
  readonly failures: string[]
}

type Writer = { key: Keypair; did: Did | null; prev: PlcStateOp | null; ops: number; n: number }

export function newWriters(keys: readonly Keypair[]): Writer[] {
  return keys.map((key) => ({ key, did: null, prev: null, ops: 0, n: 0 }))
}

function nextOp(writer: Writer, label: string): { did: Did; op: PlcOp & PlcStateOp; cid: string } {
  const signer = writer.key
  if (writer.did === null || writer.prev === null) {
    const built = createGenesisOp({ signingKey: signer.publicKey.didKey, rotationKeys: [signer.publicKey.didKey], handle: `${label}.test`, pds: PDS_ENDPOINT, signer })
    return { did: built.did, op: built.op, cid: built.cid.toString() }
  }
  const built = createUpdateOp(writer.prev, { signer, handle: `${label}.test` })
  return { did: writer.did, op: built.op, cid: built.cid.toString() }
}

function leaveDid(writer: Writer): void {
  writer.did = null
  writer.prev = null
  writer.ops = 0
}

export function plcLoad(options: { url: string; writers: readonly Writer[]; life: number; log: PlcLog }): Load {
  const { url, life, log } = options
  let stopped = false
  let acknowledged!: () => void
  const first = new Promise<void>((resolve) => (acknowledged = resolve))
  const run = async (writer: Writer, c: number): Promise<void> => {
    while (!stopped) {
      const { did, op, cid } = nextOp(writer, `l${life}c${c}n${writer.n++}`)
      let res: Response
      try {
        res = await fetch(`${url}/${did}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(op) })
        await res.text()
      } catch {
        log.uncertain.add(cid)
        leaveDid(writer)
        return
      }
      if (res.status !== 200) {
        if (!stopped) log.failures.push(`POST ${did} (${cid}): HTTP ${res.status}`)
        return
      }
      log.acked.push({ did, cid, life })
      acknowledged()
      writer.did = did
      writer.prev = op
      if (++writer.ops >= OPS_PER_DID) leaveDid(writer)
    }
  }
  const running = Promise.all(options.writers.map((w, c) => run(w, c)))
  return {
    acknowledged: first,
    stop: async () => {
      stopped = true
      await running
    },
  }
}
