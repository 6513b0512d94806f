/**
 * Invite codes as the API shows them (`com.atproto.server.defs#inviteCode`:
 * code, available, disabled, forAccount, createdBy, createdAt, uses[]),
 * new codes, and the admin listing.
 *
 * Code format (reference `genInvCode`): the PDS hostname with dots turned
 * into dashes, then two groups of five base32 characters:
 * `pds-example-com-abc23-567xy`, so a code never looks like a link.
 *
 * The admin listing (admin.getInviteCodes) pages newest first over the
 * by-created index (cursor `createdAt::code`); `sort=usage` (most used
 * first, cursor `uses::code`) has no index and sorts at most
 * PDS_INVITE_USAGE_SORT_SCAN_MAX codes in memory.
 */
import { randomBytes } from 'node:crypto'
import { AtfedError } from '../../core/errors.ts'
import { PDS_ACCOUNT_INVITE_CODES_MAX, PDS_INVITE_USAGE_SORT_SCAN_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'
import { prefixRange, type InviteCodeRow, type InviteStore, type InviteUse } from './invites.ts'

export type InviteCodeView = InviteCodeRow & { uses: InviteUse[] }

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** `xxxxx-xxxxx`, base32 (the reference's `getRandomToken`). */
export function randomToken(): string {
  const chars = Array.from(randomBytes(10), (byte) => BASE32[byte & 31]).join('')
  return `${chars.slice(0, 5)}-${chars.slice(5)}`
}

export function generateInviteCode(hostname: string): string {
  return `${hostname.replaceAll('.', '-')}-${randomToken()}`
}

export async function inviteCodeView(store: InviteStore, row: InviteCodeRow): Promise<InviteCodeView> {
  const uses = await store.usesOf(row)
  uses.sort((a, b) => (a.usedAt < b.usedAt ? 1 : a.usedAt > b.usedAt ? -1 : 0))
  return { ...row, uses }
}

/** Codes made for `account`, oldest first. */
export async function codesForAccount(store: InviteStore, account: string): Promise<InviteCodeView[]> {
  const keys = await store.byAccount.keys({ ...prefixRange(account), limit: PDS_ACCOUNT_INVITE_CODES_MAX }).all()
  const names = keys.map((key) => key.slice(key.indexOf('\u0000') + 1))
  const rows = names.length === 0 ? [] : await store.codes.getMany(names)
  const views = await Promise.all(rows.flatMap((row) => (row === undefined ? [] : [inviteCodeView(store, row)])))
  return views.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
}

/** The code `did` signed up with, or null. */
export async function invitedBy(store: InviteStore, did: Did): Promise<InviteCodeView | null> {
  const code = await store.usedBy.get(did)
  const row = code === undefined ? null : await store.get(code)
  return row === null ? null : inviteCodeView(store, row)
}

export type InvitePage = { codes: InviteCodeView[]; cursor?: string }

function splitCursor(cursor: string): [string, string] {
  const at = cursor.lastIndexOf('::')
  if (at <= 0) throw new AtfedError('InvalidRequest', 'Malformed cursor')
  return [cursor.slice(0, at), cursor.slice(at + 2)]
}

export async function pageInviteCodes(
  store: InviteStore,
  options: { sort: string; limit: number; cursor?: string },
): Promise<InvitePage> {
  if (options.sort === 'recent') return pageByRecent(store, options)
  if (options.sort === 'usage') return pageByUsage(store, options)
  throw new AtfedError('InvalidRequest', `unknown sort method: ${options.sort}`)
}

async function pageByRecent(store: InviteStore, options: { limit: number; cursor?: string }): Promise<InvitePage> {
  const range = options.cursor === undefined ? {} : { lt: splitCursor(options.cursor).join('\u0000') }
  const keys = await store.byCreated.keys({ ...range, reverse: true, limit: options.limit }).all()
  const rows = keys.length === 0 ? [] : await store.codes.getMany(keys.map((key) => key.slice(key.indexOf('\u0000') + 1)))
  const codes = await Promise.all(rows.flatMap((row) => (row === undefined ? [] : [inviteCodeView(store, row)])))
  const last = keys.at(-1)
  return keys.length === options.limit && last !== undefined ? { codes, cursor: last.replace('\u0000', '::') } : { codes }
}

async function pageByUsage(store: InviteStore, options: { limit: number; cursor?: string }): Promise<InvitePage> {
  const rows = await store.codes.values({ limit: PDS_INVITE_USAGE_SORT_SCAN_MAX }).all()
  const counted = await Promise.all(rows.map(async (row) => ({ row, uses: (await store.usesOf(row)).length })))
  counted.sort((a, b) => b.uses - a.uses || (a.row.code < b.row.code ? 1 : a.row.code > b.row.code ? -1 : 0))
  let start = 0
  if (options.cursor !== undefined) {
    const [usesText, code] = splitCursor(options.cursor)
    const uses = Number(usesText)
    start = counted.findIndex((c) => c.uses < uses || (c.uses === uses && c.row.code < code))
    if (start < 0) start = counted.length
  }
  const slice = counted.slice(start, start + options.limit)
  const codes = await Promise.all(slice.map((c) => inviteCodeView(store, c.row)))
  const last = slice.at(-1)
  return slice.length === options.limit && last !== undefined ? { codes, cursor: `${last.uses}::${last.row.code}` } : { codes }
}
