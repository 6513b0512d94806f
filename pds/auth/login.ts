/**
 * Password login (createSession): find the account by handle, DID or email,
 * check the password, and say which scope the session gets.
 *
 * - The identifier is trimmed and lower-cased; one containing `@` is an
 *   email, one starting with `did:` a DID, anything else a handle.
 * - Unknown identifier, deleted account or wrong password are the same
 *   401 `AuthenticationRequired` "Invalid identifier or password", and the
 *   whole call takes at least `loginDurationMinMs` (350 ms) either way, so
 *   timing does not tell which.
 * - A taken-down account: 401 `AccountTakedown`, unless the client passed
 *   `allowTakendown` (migrating away), which gets the `takendown` scope.
 * - A deactivated account logs in normally (getSession says active:false).
 * App passwords are another module's: it checks them here, after the main
 * password fails (`ctx.loginHooks.checkAppPassword`).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { AtfedError } from '../../core/errors.ts'
import type { AccessScope } from '../../core/crypto/session-jwt.ts'
import { isDid } from '../../core/syntax/did.ts'
import { isHandleSyntax, type Handle } from '../../core/syntax/handle.ts'
import type { Account } from '../accounts/account.ts'
import { verifyPassword } from '../accounts/password.ts'
import type { AccountStore } from '../accounts/store.ts'

export type LoginResult = { account: Account; scope: AccessScope; appPassword: string | null }

/** Extension point: app passwords. Returns the scope and name when `password` is one of the account's app passwords. */
export type AppPasswordCheck = (account: Account, password: string) => Promise<{ scope: AccessScope; name: string } | null>

export type LoginOptions = {
  accounts: AccountStore
  durationMinMs: number
  allowTakendown?: boolean
  checkAppPassword?: AppPasswordCheck
}

function invalidLogin(): AtfedError {
  return new AtfedError('AuthenticationRequired', 'Invalid identifier or password')
}

export async function findAccountByIdentifier(accounts: AccountStore, identifier: string): Promise<Account | null> {
  const id = identifier.trim().toLowerCase()
  if (id.includes('@')) return accounts.getByEmail(id)
  if (id.startsWith('did:')) return isDid(id) ? accounts.get(id) : null
  return isHandleSyntax(id) ? accounts.getByHandle(id as Handle) : null
}

export async function login(identifier: unknown, password: unknown, opts: LoginOptions): Promise<LoginResult> {
  const started = Date.now()
  try {
    if (typeof identifier !== 'string' || typeof password !== 'string') throw invalidLogin()
    const account = await findAccountByIdentifier(opts.accounts, identifier)
    if (account === null || account.status === 'deleted') throw invalidLogin()
    let result: LoginResult | null = null
    if (await verifyPassword(password, account.passwordHash)) {
      result = { account, scope: 'com.atproto.access', appPassword: null }
    } else if (opts.checkAppPassword !== undefined) {
      const app = await opts.checkAppPassword(account, password)
      if (app !== null) result = { account, scope: app.scope, appPassword: app.name }
    }
    if (result === null) throw invalidLogin()
    if (account.status === 'takendown') {
      if (opts.allowTakendown !== true) throw new AtfedError('AccountTakedown', 'Account has been taken down')
      return { ...result, scope: 'com.atproto.takendown' }
    }
    return result
  } finally {
    const left = opts.durationMinMs - (Date.now() - started)
    if (left > 0) await sleep(left)
  }
}
