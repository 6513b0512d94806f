/**
 * Private account preferences (app.bsky.actor.getPreferences /
 * putPreferences), stored on the PDS as the reference does
 * (`actor-store/preference/*`).
 *
 * Storage: sublevel ['preferences'], key DID, value the JSON text of the
 * preference array (atproto JSON form, each item an object with `$type`).
 *
 * Rules (reference `PreferenceTransactor.putPreferences`):
 * - every item's `$type` is in the `app.bsky` namespace (`app.bsky.…`),
 *   otherwise 400 `InvalidRequest`; putPreferences replaces the whole set;
 * - `app.bsky.actor.defs#personalDetailsPref` is only for full-access
 *   sessions: an app-password session does not see it, cannot write it
 *   (400 `InvalidRequest`), and its put keeps the stored one;
 * - `#declaredAgePref` is read-only: dropped from a put;
 * - the stored JSON is at most PDS_PREFERENCES_JSON_BYTES_MAX bytes
 *   (413 `PayloadTooLarge`).
 */
import type { AbstractSublevel } from 'abstract-level'
import { AtfedError } from '../../core/errors.ts'
import { PDS_PREFERENCES_JSON_BYTES_MAX } from '../../core/limits.ts'
import type { RootDb, StoreBatchOp } from '../../core/repo/block-store.ts'
import type { Did } from '../../core/syntax/did.ts'
import { XrpcError } from '../../core/xrpc/errors.ts'

export type Preference = { $type: string; [key: string]: unknown }

type TextSublevel = AbstractSublevel<RootDb, unknown, string, string>

const NAMESPACE = 'app.bsky'
const PERSONAL_DETAILS = 'app.bsky.actor.defs#personalDetailsPref'
const DECLARED_AGE = 'app.bsky.actor.defs#declaredAgePref'

function inNamespace(type: string): boolean {
  return type === NAMESPACE || type.startsWith(`${NAMESPACE}.`)
}

/** What a session of this kind may read and write. */
function allowedFor(type: string, fullAccess: boolean): boolean {
  return fullAccess || type !== PERSONAL_DETAILS
}

/** Checks a putPreferences input; returns the items to store. */
export function checkPreferences(input: unknown, fullAccess: boolean): Preference[] {
  if (!Array.isArray(input)) throw new AtfedError('InvalidRequest', 'preferences must be an array')
  const out: Preference[] = []
  for (const item of input) {
    const type = (item as { $type?: unknown } | null)?.$type
    if (typeof item !== 'object' || item === null || typeof type !== 'string') {
      throw new AtfedError('InvalidRequest', 'Preference is missing a $type')
    }
    if (!inNamespace(type)) throw new AtfedError('InvalidRequest', `Some preferences are not in the ${NAMESPACE} namespace`)
    if (!allowedFor(type, fullAccess)) throw new AtfedError('InvalidRequest', 'Do not have authorization to set preferences.')
    if (type !== DECLARED_AGE) out.push(item as Preference)
  }
  return out
}

export class PreferenceStore {
  readonly #rows: TextSublevel

  static async open(db: RootDb): Promise<PreferenceStore> {
    const rows = db.sublevel<string, string>(['preferences'], { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await rows.open()
    return new PreferenceStore(rows as TextSublevel)
  }

  private constructor(rows: TextSublevel) {
    this.#rows = rows
  }

  async #all(did: Did): Promise<Preference[]> {
    const text = await this.#rows.get(did)
    return text === undefined ? [] : (JSON.parse(text) as Preference[])
  }

  /** The account's preferences a session of this kind may see. */
  async get(did: Did, options: { fullAccess: boolean }): Promise<Preference[]> {
    return (await this.#all(did)).filter((pref) => allowedFor(pref.$type, options.fullAccess))
  }

  /** Replaces the set (items already checked by `checkPreferences`), keeping what the session may not touch. */
  async put(did: Did, prefs: readonly Preference[], options: { fullAccess: boolean }): Promise<void> {
    const kept = (await this.#all(did)).filter((pref) => !allowedFor(pref.$type, options.fullAccess))
    const text = JSON.stringify([...kept, ...prefs])
    if (Buffer.byteLength(text) > PDS_PREFERENCES_JSON_BYTES_MAX) {
      throw new XrpcError(413, 'PayloadTooLarge', `preferences are larger than ${PDS_PREFERENCES_JSON_BYTES_MAX} bytes`)
    }
    await this.#rows.db.batch([{ type: 'put', sublevel: this.#rows, key: did, value: text } as StoreBatchOp], { sync: true })
  }

  /** Ops removing the account's preferences (account deletion). */
  deleteOps(did: Did): StoreBatchOp[] {
    return [{ type: 'del', sublevel: this.#rows, key: did } as StoreBatchOp]
  }
}
