/**
 * Per-host limits: how many accounts a host may bring and how many events per
 * second, hour and day it may send. New hosts start small, as indigo's do:
 * an untrusted host gets RELAY_HOST_ACCOUNTS_MAX_NEW accounts and event rates
 * derived from its account limit (BASE + accounts/1000 per second, BASE +
 * accounts per hour, BASE + 10 × accounts per day); a trusted host (one the
 * operator configured with `--host`) gets the fixed trusted rates.
 *
 * An admin change (`/admin/pds/changeLimits`) may set any of the four. A new
 * `accountsMax` on an untrusted host recomputes the three rates from the
 * formula unless the same change sets them explicitly.
 */
import { AtfedError } from '../../core/errors.ts'
import {
  RELAY_HOST_ACCOUNTS_MAX_NEW,
  RELAY_HOST_ACCOUNTS_MAX_TRUSTED,
  RELAY_HOST_EVENTS_PER_DAY_BASE,
  RELAY_HOST_EVENTS_PER_DAY_TRUSTED,
  RELAY_HOST_EVENTS_PER_HOUR_BASE,
  RELAY_HOST_EVENTS_PER_HOUR_TRUSTED,
  RELAY_HOST_EVENTS_PER_SECOND_BASE,
  RELAY_HOST_EVENTS_PER_SECOND_TRUSTED,
  RELAY_HOST_LIMIT_VALUE_MAX,
} from '../../core/limits.ts'

export type HostLimits = {
  readonly accountsMax: number
  readonly eventsPerSecond: number
  readonly eventsPerHour: number
  readonly eventsPerDay: number
}

export const HOST_LIMIT_NAMES = ['accountsMax', 'eventsPerSecond', 'eventsPerHour', 'eventsPerDay'] as const

export function defaultHostLimits(trusted: boolean, accountsMax?: number): HostLimits {
  if (trusted) {
    return {
      accountsMax: accountsMax ?? RELAY_HOST_ACCOUNTS_MAX_TRUSTED,
      eventsPerSecond: RELAY_HOST_EVENTS_PER_SECOND_TRUSTED,
      eventsPerHour: RELAY_HOST_EVENTS_PER_HOUR_TRUSTED,
      eventsPerDay: RELAY_HOST_EVENTS_PER_DAY_TRUSTED,
    }
  }
  const accounts = accountsMax ?? RELAY_HOST_ACCOUNTS_MAX_NEW
  return {
    accountsMax: accounts,
    eventsPerSecond: Math.min(RELAY_HOST_LIMIT_VALUE_MAX, RELAY_HOST_EVENTS_PER_SECOND_BASE + Math.floor(accounts / 1000)),
    eventsPerHour: Math.min(RELAY_HOST_LIMIT_VALUE_MAX, RELAY_HOST_EVENTS_PER_HOUR_BASE + accounts),
    eventsPerDay: Math.min(RELAY_HOST_LIMIT_VALUE_MAX, RELAY_HOST_EVENTS_PER_DAY_BASE + 10 * accounts),
  }
}

export type HostLimitsChange = { -readonly [K in keyof HostLimits]?: number }

/** The limits named in a JSON body, each an integer in 1..RELAY_HOST_LIMIT_VALUE_MAX; throws 'InvalidRequest'. */
export function parseLimitsChange(body: { readonly [key: string]: unknown }): HostLimitsChange {
  const change: HostLimitsChange = {}
  for (const name of HOST_LIMIT_NAMES) {
    const value = body[name]
    if (value === undefined) continue
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > RELAY_HOST_LIMIT_VALUE_MAX) {
      throw new AtfedError('InvalidRequest', `${name} must be an integer from 1 to ${RELAY_HOST_LIMIT_VALUE_MAX}`)
    }
    change[name] = value
  }
  if (Object.keys(change).length === 0) throw new AtfedError('InvalidRequest', `name at least one of ${HOST_LIMIT_NAMES.join(', ')}`)
  return change
}

export function applyLimitsChange(current: HostLimits, change: HostLimitsChange, trusted: boolean): HostLimits {
  const base = change.accountsMax !== undefined && !trusted ? defaultHostLimits(false, change.accountsMax) : current
  return {
    accountsMax: change.accountsMax ?? base.accountsMax,
    eventsPerSecond: change.eventsPerSecond ?? base.eventsPerSecond,
    eventsPerHour: change.eventsPerHour ?? base.eventsPerHour,
    eventsPerDay: change.eventsPerDay ?? base.eventsPerDay,
  }
}
