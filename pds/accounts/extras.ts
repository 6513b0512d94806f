/**
 * The account-extras stores: app passwords, invite codes, preferences,
 * admin takedown references and account-deletion state, each in its own
 * sublevels of the PDS's one level db (so their ops can join any batch).
 *
 * They are opened once per context, on first use, and found FROM the
 * context (a WeakMap keyed by it) rather than being context fields: the
 * context type stays as the foundation made it, and a module that needs a
 * store asks `accountExtras(ctx)`. Route handlers await it; the one
 * synchronous user (invite claims inside createAccount's batch builder)
 * calls `accountExtrasSync`, which is safe because the invite gate awaited
 * the stores earlier in the same request.
 */
import { assert } from '../../core/errors.ts'
import type { PdsContext } from '../context.ts'
import { AppPasswordStore } from './app-passwords.ts'
import { DeletionStore } from './account-deletion-store.ts'
import { InviteStore } from './invites.ts'
import { PreferenceStore } from './preferences.ts'
import { TakedownStore } from './takedown-store.ts'

export type AccountExtras = {
  readonly appPasswords: AppPasswordStore
  readonly invites: InviteStore
  readonly preferences: PreferenceStore
  readonly takedowns: TakedownStore
  readonly deletion: DeletionStore
}

type Slot = { promise: Promise<AccountExtras>; value: AccountExtras | null }

const opened = new WeakMap<PdsContext, Slot>()

async function openExtras(ctx: PdsContext): Promise<AccountExtras> {
  const [appPasswords, invites, preferences, takedowns, deletion] = await Promise.all([
    AppPasswordStore.open(ctx.db),
    InviteStore.open(ctx.db),
    PreferenceStore.open(ctx.db),
    TakedownStore.open(ctx.db),
    DeletionStore.open(ctx.db),
  ])
  return { appPasswords, invites, preferences, takedowns, deletion }
}

export function accountExtras(ctx: PdsContext): Promise<AccountExtras> {
  let slot = opened.get(ctx)
  if (slot === undefined) {
    const fresh: Slot = { promise: openExtras(ctx), value: null }
    fresh.promise.then((value) => (fresh.value = value)).catch(() => opened.delete(ctx))
    opened.set(ctx, fresh)
    slot = fresh
  }
  return slot.promise
}

/** The stores, already open (an earlier `await accountExtras(ctx)` in the same flow guarantees it). */
export function accountExtrasSync(ctx: PdsContext): AccountExtras {
  const value = opened.get(ctx)?.value ?? null
  assert(value !== null, 'account-extras stores used before they were opened')
  return value
}
