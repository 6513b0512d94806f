/**
 * Everything a PDS request may need, built once at start (`createPdsContext`)
 * and handed to every route module. See pds/server.ts for how modules use it.
 *
 * Storage is three level databases. DATA/db holds the state; each store owns
 * sublevels of it (so any of them can put ops into another's atomic batch):
 *   accounts/*      account rows, handle and email indexes (accounts/store.ts)
 *   sessions/*      refresh-token rows (auth/sessions.ts)
 *   repo/*          blocks, heads (core LevelRepoStore), record refs (repo/record-refs.ts)
 *   event-acks/*    the highest firehose seq whose change is durable (event-journal.ts)
 * A new store takes `ctx.db`, opens its own sublevels under a new name, and
 * becomes a field here. DATA/events holds the firehose log (core
 * LevelEventLog), written ahead of the state by the group commit
 * (event-journal.ts says why and how a crash is recovered); a change with
 * events goes through `ctx.writer` (`storeWithEvents`, `storeCommit`).
 * DATA/commit-index holds the blocks each commit wrote, for getRepo `since`,
 * written after the commit (repo/commit-index.ts: losing an entry costs a
 * full-repo answer, never a wrong one).
 *
 * Also here: the server's PLC rotation key and session secret (secrets.ts,
 * files in DATA, 0600), the lexicon registry (vendored lexicons/), the
 * identity resolver (dev flag → private addresses and `.test` allowed), the
 * PLC client, the rate limiter, the write path and its hooks, and a timer
 * that trims firehose events older than the backfill window.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSessionSecret, type SessionSecret } from '../core/crypto/session-jwt.ts'
import type { Keypair } from '../core/crypto/keypair.ts'
import { PDS_EVENT_TRIM_INTERVAL_MS } from '../core/limits.ts'
import { loadLexiconDir } from '../core/lexicon/registry.ts'
import type { LexiconRegistry } from '../core/lexicon/registry.ts'
import { binaryStoreDb, LevelRepoStore, type RootDb } from '../core/repo/block-store.ts'
import type { LevelEventLog } from '../core/stream/event-log-level.ts'
import type { Did } from '../core/syntax/did.ts'
import type { RateLimiter } from '../core/xrpc/rate-limit.ts'
import { IdentityResolver } from '../did-resolver/identity-resolver.ts'
import { PlcClient } from '../did-resolver/plc/client.ts'
import { AccountStore } from './accounts/store.ts'
import { SigningKeys } from './accounts/signing-keys.ts'
import type { AppPasswordCheck } from './auth/login.ts'
import { SessionStore } from './auth/sessions.ts'
import { AuthVerifier } from './auth/verifier.ts'
import type { PdsConfig } from './config.ts'
import { createPdsRateLimiter } from './rate-limits.ts'
import { RecordRefs } from './repo/record-refs.ts'
import { ensureDataDir, loadJwtSecret, loadRotationKey } from './secrets.ts'
import { EventJournal } from './event-journal.ts'
import { CommitIndex } from './repo/commit-index.ts'
import { RepoWriter, type WriteHook } from './writes.ts'

export const LEXICON_DIR = fileURLToPath(new URL('../lexicons', import.meta.url))

export type PdsContext = {
  readonly config: PdsConfig
  /** Origin written into DID documents (`https://<hostname>`). */
  readonly publicUrl: string
  /** `did:web:<hostname>`: describeServer `did`, token audience. */
  readonly serviceDid: Did
  readonly db: RootDb
  readonly accounts: AccountStore
  readonly sessions: SessionStore
  readonly repos: LevelRepoStore
  readonly refs: RecordRefs
  readonly events: LevelEventLog
  /** The event database and its acknowledgement rule (`events` is its log). */
  readonly journal: EventJournal
  /** getRepo `since`'s per-commit block lists (DATA/commit-index). */
  readonly commitIndex: CommitIndex
  readonly writer: RepoWriter
  /** Consulted by every repo write; modules push theirs at setup (before the server listens). */
  readonly writeHooks: WriteHook[]
  readonly signingKeys: SigningKeys
  /** The server's PLC rotation key (k256), in every account's rotationKeys. */
  readonly rotationKey: Keypair
  readonly sessionSecret: SessionSecret
  readonly auth: AuthVerifier
  readonly lexicons: LexiconRegistry
  readonly idResolver: IdentityResolver
  readonly plc: PlcClient
  /** Null when rate limits are off. */
  readonly rateLimiter: RateLimiter | null
  /** Set by the app-password module: login tries it after the main password fails. */
  readonly loginHooks: { checkAppPassword?: AppPasswordCheck }
  /** Run (in reverse order) by `closePdsContext`: timers, caches, module state. */
  readonly cleanups: Array<() => void | Promise<void>>
}

export type ContextOptions = {
  publicUrl: string
  serviceDid: Did
  /** Clock for sessions and the event log (tests). */
  now?: () => number
}

export async function createPdsContext(config: PdsConfig, options: ContextOptions): Promise<PdsContext> {
  ensureDataDir(config.dataDir)
  const rotationKey = loadRotationKey(config.dataDir)
  const sessionSecret = createSessionSecret(loadJwtSecret(config.dataDir, config.jwtSecret))
  const lexicons = await loadLexiconDir(LEXICON_DIR)
  const db: RootDb = binaryStoreDb(join(config.dataDir, 'db'))
  await db.open()
  const now = options.now
  const [accounts, repos, refs, journal, sessions, commitIndex] = await Promise.all([
    AccountStore.open(db),
    LevelRepoStore.open(db),
    RecordRefs.open(db),
    EventJournal.open(config.dataDir, db, now === undefined ? {} : { now }),
    SessionStore.open(db, { secret: sessionSecret, serviceDid: options.serviceDid, ...(now === undefined ? {} : { now }) }),
    CommitIndex.open(config.dataDir, db),
  ])
  const signingKeys = new SigningKeys()
  const writeHooks: WriteHook[] = []
  const idResolver = new IdentityResolver({ plcUrl: config.plcUrl, allowPrivateAddresses: config.dev })
  const ctx: PdsContext = {
    config,
    publicUrl: options.publicUrl,
    serviceDid: options.serviceDid,
    db,
    accounts,
    sessions,
    repos,
    refs,
    events: journal.log,
    journal,
    commitIndex,
    writer: new RepoWriter({ repos, accounts, refs, events: journal.log, journal, signingKeys, hooks: writeHooks }),
    writeHooks,
    signingKeys,
    rotationKey,
    sessionSecret,
    auth: new AuthVerifier({ secret: sessionSecret, serviceDid: options.serviceDid, accounts, adminPassword: config.adminPassword, ...(now === undefined ? {} : { now }) }),
    lexicons,
    idResolver,
    plc: new PlcClient(config.plcUrl),
    rateLimiter: config.rateLimitsEnabled ? createPdsRateLimiter(now) : null,
    loginHooks: {},
    cleanups: [],
  }
  ctx.cleanups.push(() => ctx.writer.close()) // runs last: every queued commit is written before the db closes
  startEventTrim(ctx)
  return ctx
}

function startEventTrim(ctx: PdsContext): void {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    ctx.events
      .trim(ctx.config.backfillWindowMs)
      .catch((err: unknown) => console.error('pds: trimming the event log failed:', err))
      .finally(() => {
        running = false
      })
  }, PDS_EVENT_TRIM_INTERVAL_MS)
  timer.unref()
  ctx.cleanups.push(() => clearInterval(timer))
}

/** Runs the cleanups, closes the event log and its database, the resolver and the repo database. */
export async function closePdsContext(ctx: PdsContext): Promise<void> {
  for (const cleanup of [...ctx.cleanups].reverse()) await cleanup()
  await ctx.journal.close()
  await ctx.commitIndex.close()
  ctx.idResolver.close()
  await ctx.db.close()
}
