/**
 * An account hosted here, as stored: one JSON row per DID.
 *
 * `status` is the hosting status (what `#account` events and getRepoStatus
 * report): `active`, `deactivated` (by the user, or an account migrated in
 * and not yet activated), `takendown` (by the admin), `deleted` (a row kept
 * only until the repo is purged). The account's repo signing key lives in
 * the row as hex; the data directory is 0700.
 *
 * Adding a field: add it here (optional, so older rows still decode), in
 * `decodeAccount`, and wherever it is set. Unknown fields in stored rows are
 * dropped on decode.
 */
import { AtfedError } from '../../core/errors.ts'
import type { KeyType } from '../../core/crypto/key-types.ts'
import { isDid, type Did } from '../../core/syntax/did.ts'
import { isHandle, type Handle } from '../../core/syntax/handle.ts'

export type HostingStatus = 'active' | 'deactivated' | 'takendown' | 'deleted'
export const HOSTING_STATUSES: readonly HostingStatus[] = ['active', 'deactivated', 'takendown', 'deleted']

export type Account = {
  readonly did: Did
  readonly handle: Handle
  /** Lower-cased; null when the account has none. */
  readonly email: string | null
  /** `salt:key` hex (password.ts). */
  readonly passwordHash: string
  readonly signingKey: { readonly type: KeyType; readonly privateKeyHex: string }
  readonly status: HostingStatus
  /** ISO datetime. */
  readonly createdAt: string
  readonly emailConfirmedAt: string | null
  readonly deactivatedAt: string | null
}

function corrupt(did: string, field: string): AtfedError<'CorruptAccount'> {
  return new AtfedError('CorruptAccount', `stored account ${did}: bad ${field}`)
}

function optionalString(row: { [key: string]: unknown }, key: string, did: string): string | null {
  const value = row[key]
  if (value === undefined || value === null) return null
  if (typeof value !== 'string') throw corrupt(did, key)
  return value
}

/** A stored row back into an `Account`; throws `CorruptAccount`. */
export function decodeAccount(row: unknown): Account {
  if (typeof row !== 'object' || row === null) throw corrupt('?', 'row')
  const r = row as { [key: string]: unknown }
  const did = r['did']
  if (!isDid(did)) throw corrupt(String(did), 'did')
  if (!isHandle(r['handle'])) throw corrupt(did, 'handle')
  if (typeof r['passwordHash'] !== 'string') throw corrupt(did, 'passwordHash')
  const key = r['signingKey'] as { type?: unknown; privateKeyHex?: unknown } | undefined
  if (key === undefined || (key.type !== 'k256' && key.type !== 'p256') || typeof key.privateKeyHex !== 'string') {
    throw corrupt(did, 'signingKey')
  }
  const status = r['status']
  if (!HOSTING_STATUSES.includes(status as HostingStatus)) throw corrupt(did, 'status')
  if (typeof r['createdAt'] !== 'string') throw corrupt(did, 'createdAt')
  return {
    did,
    handle: r['handle'],
    email: optionalString(r, 'email', did),
    passwordHash: r['passwordHash'],
    signingKey: { type: key.type, privateKeyHex: key.privateKeyHex },
    status: status as HostingStatus,
    createdAt: r['createdAt'],
    emailConfirmedAt: optionalString(r, 'emailConfirmedAt', did),
    deactivatedAt: optionalString(r, 'deactivatedAt', did),
  }
}

/** The `#account` / getRepoStatus view: `active`, and `status` only when not active. */
export function accountStatusView(account: Pick<Account, 'status'>): { active: boolean; status: Exclude<HostingStatus, 'active'> | null } {
  return account.status === 'active' ? { active: true, status: null } : { active: false, status: account.status }
}
