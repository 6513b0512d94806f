/**
 * The PLC directory crash target: `atfed plc` as the child, CLIENTS writers
 * (plc-load.ts). After each restart, from `/export?after=<seq>` (every
 * entry, in seq order) and the audit logs:
 * - seqs run 1..n with no gap; every line exported before a kill is
 *   exported again unchanged;
 * - no partial op: every new entry is a whole op (parses, its CID is the
 *   CID of the op it carries) that someone submitted: acknowledged, or in
 *   flight at a kill (allowed: the rule is the same as the PDS's — a write
 *   whose answer was lost may be durable, but only whole);
 * - every acknowledged op is exported exactly once, under its DID (else
 *   lost);
 * - each DID with a new entry, and a seeded sample of older ones: its
 *   `/log/audit` verifies (validateAuditLog: signatures, prev chain, CIDs,
 *   nullified flags) and lists exactly the DID's exported entries, in order.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Did } from '../../core/syntax/did.ts'
import { cidForOp, parsePlcOp } from '../../did-resolver/plc/operation.ts'
import { validateAuditLog } from '../../did-resolver/plc/validate.ts'
import type { LogEntry } from '../../did-resolver/plc/validate.ts'
import { freePort } from '../helpers/atfed-child.ts'
import { seededKeypair } from '../helpers/plc.ts'
import type { Rng } from '../helpers/prng.ts'
import type { CheckResult, CrashTarget } from './harness.ts'
import { newWriters, plcLoad } from './plc-load.ts'
import type { PlcLog } from './plc-load.ts'

const CLIENTS = 4
const EXPORT_PAGE = 1_000
const AUDIT_SAMPLE = 5

type ExportLine = { seq: number; type: string; did: Did; operation: unknown; cid: string; nullified: boolean; createdAt: string }
type Audit = { did: Did; operation: unknown; cid: string; nullified: boolean; createdAt: string }

async function exportAll(url: string): Promise<string[]> {
  const lines: string[] = []
  for (;;) {
    const res = await fetch(`${url}/export?after=${lines.length}&count=${EXPORT_PAGE}`)
    if (res.status !== 200) throw new Error(`/export: HTTP ${res.status}`)
    const page = (await res.text()).split('\n').filter((l) => l !== '')
    lines.push(...page)
    if (page.length < EXPORT_PAGE) return lines
  }
}

export async function plcCrashTarget(): Promise<CrashTarget> {
  const root = mkdtempSync(join(tmpdir(), 'atfed-crash-plc-'))
  const port = await freePort()
  const log: PlcLog = { acked: [], uncertain: new Set(), failures: [] }
  let writers: ReturnType<typeof newWriters> = []
  let rng: Rng | null = null
  /** Every line exported so far (index seq - 1) and the seqs of each DID. */
  const exported: string[] = []
  const byDid = new Map<Did, number[]>()
  const cidCounts = new Map<string, number>()
  return {
    component: 'plc',
    command: () => ({ args: ['plc', '--port', String(port), '--data', join(root, 'plc')], ready: /listening on (http:\/\/\S+)/ }),
    setup: async (_url, seeded) => {
      rng = seeded
      writers = newWriters(Array.from({ length: CLIENTS }, () => seededKeypair(seeded, 'k256')))
    },
    load: (life, url) => plcLoad({ url, writers, life, log }),
    check: async (_life, url) => {
      const result: CheckResult = { acked: log.acked.length, uncertainDurable: 0, lost: 0, problems: log.failures.splice(0) }
      const lines = await exportAll(url)
      if (lines.length < exported.length) result.problems.push(`${lines.length} entries exported, ${exported.length} before the kill`)
      exported.forEach((line, i) => {
        if (lines[i] !== line) result.problems.push(`seq ${i + 1} changed across a restart`)
      })
      const touched = new Set<Did>()
      const ackedCids = new Set(log.acked.map((a) => a.cid))
      for (const line of lines.slice(exported.length)) {
        const entry = JSON.parse(line) as ExportLine
        exported.push(line)
        const problem = checkEntry(entry, exported.length)
        if (problem !== null) result.problems.push(problem)
        if (!ackedCids.has(entry.cid)) {
          if (log.uncertain.has(entry.cid)) result.uncertainDurable++
          else result.problems.push(`seq ${entry.seq}: op ${entry.cid} was neither acknowledged nor in flight at a kill`)
        }
        byDid.set(entry.did, [...(byDid.get(entry.did) ?? []), entry.seq])
        cidCounts.set(entry.cid, (cidCounts.get(entry.cid) ?? 0) + 1)
        touched.add(entry.did)
      }
      for (const a of log.acked) if (cidCounts.get(a.cid) !== 1) result.lost++
      const older = [...byDid.keys()].filter((d) => !touched.has(d))
      for (let i = 0; i < AUDIT_SAMPLE && older.length > 0; i++) touched.add(rng!.pick(older))
      for (const did of touched) {
        const problem = await checkAudit(url, did, (byDid.get(did) ?? []).map((seq) => JSON.parse(exported[seq - 1]!) as ExportLine))
        if (problem !== null) result.problems.push(problem)
      }
      return result
    },
    close: async () => {
      rmSync(root, { recursive: true, force: true })
    },
  }
}

/** A whole op at the right seq: it parses and its CID is the op's own. */
function checkEntry(entry: ExportLine, seq: number): string | null {
  if (entry.seq !== seq || entry.type !== 'sequenced_op') return `entry ${JSON.stringify(entry).slice(0, 80)} at seq ${seq}`
  try {
    const op = parsePlcOp(entry.operation)
    if (cidForOp(op).toString() !== entry.cid) return `seq ${seq}: the op's CID is not ${entry.cid}`
  } catch (err) {
    return `seq ${seq}: not a whole op: ${err instanceof Error ? err.message : String(err)}`
  }
  return null
}

async function checkAudit(url: string, did: Did, fromExport: readonly ExportLine[]): Promise<string | null> {
  const res = await fetch(`${url}/${did}/log/audit`)
  if (res.status !== 200) return `${did}/log/audit: HTTP ${res.status}`
  const audit = (await res.json()) as Audit[]
  const cids = audit.map((e) => e.cid).join(' ')
  if (cids !== fromExport.map((e) => e.cid).join(' ')) return `${did}: the audit log (${cids}) is not the exported entries`
  try {
    const entries: LogEntry[] = audit.map((e) => ({ did: e.did, operation: parsePlcOp(e.operation), cid: e.cid, nullified: e.nullified, createdAt: Date.parse(e.createdAt) }))
    validateAuditLog(did, entries)
  } catch (err) {
    return `${did}: the audit log does not verify: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`
  }
  return null
}
