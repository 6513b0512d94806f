/**
 * The resumable state of `atfed account recover`: which steps are done, in
 * `<backup dir>/recover-state.json` (or `./atfed-recover-<did>.json` when
 * the backup directory is read-only), rewritten atomically after each step
 * (backup-dir.ts `writeFileAtomic`).
 *
 * The file is a hint, not the truth: each step also asks the servers
 * (an account that already exists is logged into, an activated account
 * skips the rest, a PLC that already points at the new PDS is not
 * updated), so a lost state file costs a little repeated work, never a
 * wrong result. It holds no secret (no password, no key, no token).
 *
 * One recovery per state file: a file for another DID or another target
 * PDS is refused (`RecoveryStateMismatch`: delete it to start over); a newer
 * backup than the one the file started with re-runs import and blobs.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { AtfedError } from '../../core/errors.ts'
import { BACKUP_MANIFEST_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { writeFileAtomic } from './backup-dir.ts'

export const RECOVER_STEPS = ['created', 'imported', 'blobs', 'plc', 'activated'] as const
export type RecoverStep = (typeof RECOVER_STEPS)[number]

type StateData = {
  version: 1
  did: Did
  to: string
  backupCommit: string
  done: { [step in RecoverStep]?: string }
  plcOp: string | null
}

export type StateKey = { did: Did; to: string; backupCommit: string }

function statePath(backupDir: string, did: Did): string {
  try {
    accessSync(backupDir, constants.W_OK)
    return join(backupDir, 'recover-state.json')
  } catch {
    return resolve(`atfed-recover-${did.replace(/:/g, '_')}.json`)
  }
}

function load(path: string): StateData | null {
  const size = statSync(path, { throwIfNoEntry: false })?.size
  if (size === undefined) return null
  if (size > BACKUP_MANIFEST_BYTES_MAX) throw new AtfedError('InvalidRecoveryState', `${path} is too large`)
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as StateData
    if (data.version !== 1 || typeof data.done !== 'object' || data.done === null) throw new Error('bad shape')
    return data
  } catch {
    throw new AtfedError('InvalidRecoveryState', `${path} is not a recovery state file (delete it to start over)`)
  }
}

export class RecoverState {
  readonly path: string
  #data: StateData

  private constructor(path: string, data: StateData) {
    this.path = path
    this.#data = data
  }

  static open(backupDir: string, key: StateKey): RecoverState {
    const path = statePath(backupDir, key.did)
    const fresh: StateData = { version: 1, ...key, done: {}, plcOp: null }
    const found = load(path)
    if (found === null) return new RecoverState(path, fresh)
    if (found.did !== key.did || found.to !== key.to) {
      throw new AtfedError('RecoveryStateMismatch', `${path} records a recovery of ${found.did} to ${found.to}; delete it to start another`)
    }
    if (found.backupCommit !== key.backupCommit) {
      const { imported: _i, blobs: _b, ...kept } = found.done
      return new RecoverState(path, { ...found, backupCommit: key.backupCommit, done: kept })
    }
    return new RecoverState(path, found)
  }

  has(step: RecoverStep): boolean {
    return this.#data.done[step] !== undefined
  }

  get plcOp(): string | null {
    return this.#data.plcOp
  }

  mark(step: RecoverStep, extra: { plcOp?: string } = {}): void {
    this.#data = { ...this.#data, done: { ...this.#data.done, [step]: new Date().toISOString() }, ...extra }
    writeFileAtomic(dirname(this.path), basename(this.path), `${JSON.stringify(this.#data, null, 1)}\n`)
  }

  get doneSteps(): RecoverStep[] {
    return RECOVER_STEPS.filter((step) => this.has(step))
  }
}
