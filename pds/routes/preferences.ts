/**
 * app.bsky.actor.getPreferences / putPreferences, served by the PDS itself
 * (the reference stores them per account and answers locally when the
 * target is its default AppView; this PDS always answers locally). Rules
 * and storage: accounts/preferences.ts.
 *
 * Credentials: any session; getPreferences also takes a taken-down
 * session (migrating away), putPreferences refuses taken-down accounts.
 * `personalDetailsPref` needs a full-access session both ways.
 * The input keeps its JSON form (`rawJsonInput`): preferences are stored
 * and returned as the client sent them.
 */
import type { XrpcRouter } from '../../core/xrpc/server.ts'
import { accountExtras } from '../accounts/extras.ts'
import { checkPreferences } from '../accounts/preferences.ts'
import type { AccessCredentials } from '../auth/verifier.ts'
import type { PdsContext } from '../context.ts'
import { rawJsonInput } from '../lexicon-hooks.ts'

function fullAccess(auth: AccessCredentials): boolean {
  return auth.scope === 'com.atproto.access'
}

export function registerPreferenceRoutes(router: XrpcRouter, ctx: PdsContext): void {
  router.query<AccessCredentials>(
    'app.bsky.actor.getPreferences',
    async ({ auth }) => {
      const preferences = await (await accountExtras(ctx)).preferences.get(auth.did, { fullAccess: fullAccess(auth) })
      return { encoding: 'application/json', body: { preferences } }
    },
    { auth: ctx.auth.access({ allowTakendownScope: true }) },
  )

  router.procedure<AccessCredentials>(
    'app.bsky.actor.putPreferences',
    async ({ auth, input }) => {
      const prefs = checkPreferences((input?.body as { preferences?: unknown }).preferences, fullAccess(auth))
      await (await accountExtras(ctx)).preferences.put(auth.did, prefs, { fullAccess: fullAccess(auth) })
    },
    { auth: ctx.auth.access({ checkTakedown: true }), input: { kind: 'json' }, validateInput: rawJsonInput(ctx.lexicons) },
  )
}
