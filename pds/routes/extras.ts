/**
 * The accounts-extras route modules as ONE `ROUTE_MODULES` entry
 * (pds/server.ts): app passwords, own invite codes and account deletion
 * (account-extras.ts), admin account and invite methods (admin.ts,
 * admin-invites.ts), preferences (preferences.ts), and sync.getRecord /
 * getBlocks with the commit index behind getRepo `since` (sync-extras.ts).
 */
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import type { PdsContext } from '../context.ts'
import { registerAccountExtrasRoutes } from './account-extras.ts'
import { registerAdminInviteRoutes } from './admin-invites.ts'
import { registerAdminRoutes } from './admin.ts'
import { registerPreferenceRoutes } from './preferences.ts'
import { registerSyncExtrasRoutes } from './sync-extras.ts'

export function registerExtrasRoutes(router: XrpcRouter, ctx: PdsContext): void {
  registerAccountExtrasRoutes(router, ctx)
  registerAdminRoutes(router, ctx)
  registerAdminInviteRoutes(router, ctx)
  registerPreferenceRoutes(router, ctx)
  registerSyncExtrasRoutes(router, ctx)
}
