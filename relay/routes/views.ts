/**
 * JSON shapes the relay answers with: a host as listHosts/getHostStatus show
 * it (lexicon `com.atproto.sync.listHosts#host` plus, for getHostStatus and
 * the admin list, the limits and counters that explain its state), and an
 * account as listRepos/getRepoStatus show it.
 */
import { accountStatusField, isAccountActive } from '../accounts.ts'
import type { AccountState } from '../accounts.ts'
import type { HostRecord, HostRegistry } from '../hosts/host-registry.ts'

export function hostSummary(record: HostRecord, hosts: HostRegistry, nowMs: number) {
  return {
    hostname: record.hostname,
    ...(record.cursor === null ? {} : { seq: record.cursor }),
    accountCount: record.accountCount,
    status: hosts.statusOf(record, nowMs),
  }
}

export function hostDetail(record: HostRecord, hosts: HostRegistry, nowMs: number) {
  return {
    ...hostSummary(record, hosts, nowMs),
    trusted: record.trusted,
    addedAt: record.addedAt,
    limits: record.limits,
    accepted: record.accepted,
    drops: record.drops,
    lastError: record.lastError,
  }
}

export function repoStatus(account: AccountState) {
  const active = isAccountActive(account)
  const status = accountStatusField(account)
  return {
    did: account.did,
    active,
    ...(status === null ? {} : { status }),
    ...(account.rev === null ? {} : { rev: account.rev }),
  }
}
