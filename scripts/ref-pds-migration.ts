/**
 * Account migration against the reference PDS, both ways, with the real
 * `atfed account migrate` CLI (outside CI: the reference needs Node 22).
 *
 *   cp -r ../shared/peers /tmp/peers && (cd /tmp/peers && npm ci)
 *   PEERS_DIR=/tmp/peers node --import tsx scripts/ref-pds-migration.ts
 *
 * 1. the reference PDS (with its mock PLC) and `atfed pds --dev` on that PLC;
 * 2. on the reference: an account with POSTS posts, an image post (uploaded
 *    PNG blob), a like, a follow and preferences;
 * 3. reference → atfed (`atfed account migrate`, the reference's PLC token
 *    read from its database and typed into the CLI's prompt), then checks;
 * 4. a post on atfed, then atfed → a second reference PDS on the same PLC
 *    (token through atfed's --dev admin route), then the same checks there.
 *    (Not back to the first one: the reference refuses createAccount for a
 *    DID whose deactivated repo it still holds, `AlreadyExists`.)
 * Checks after each move, on the new PDS: checkAccountStatus (activated,
 * validDid, record and blob counts), every record (listRecords, cid equal to
 * the old PDS's), the blob bytes, the preferences, the PLC document
 * (endpoint = new PDS, signing key = the new PDS's recommendation, old
 * rotation keys kept), a new post accepted; on the old PDS: the account is
 * deactivated and a write is refused.
 * Prints PASS/FAIL lines and a JSON summary; exit 1 on any failure.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { demoPng } from '../cli/dev-png.ts'
import { XrpcClient } from '../core/xrpc/client.ts'
import { refPlcToken, startAtfedPds, startRefPds, type RefPds } from './ref-pds-peers.ts'
import { checkMoved, snapshot, type Snapshot } from './ref-pds-migration-checks.ts'

const BIN = fileURLToPath(new URL('../bin/atfed.js', import.meta.url))
const PEERS_DIR = process.env['PEERS_DIR'] ?? '/tmp/peers'
const POSTS = Number(process.env['POSTS'] ?? 20)
const PASSWORD = 'migrate-pass-1'
const MIGRATE_TIMEOUT_MS = 120_000

type Session = { did: string; handle: string; accessJwt: string }

async function seed(pdsUrl: string, handle: string): Promise<Session> {
  const pds = new XrpcClient({ service: pdsUrl })
  const account = (await pds.procedure<Session>('com.atproto.server.createAccount', { handle, email: `${handle}@example.com`, password: PASSWORD })).body
  const auth = { token: account.accessJwt }
  const create = (collection: string, record: Record<string, unknown>) =>
    pds.procedure<{ uri: string; cid: string }>('com.atproto.repo.createRecord', { repo: account.did, collection, record }, auth)
  const createdAt = () => new Date().toISOString()
  let first: { uri: string; cid: string } | null = null
  for (let i = 0; i < POSTS; i++) {
    const res = await create('app.bsky.feed.post', { $type: 'app.bsky.feed.post', text: `post ${i} on the reference`, createdAt: createdAt() })
    first ??= res.body
  }
  const blob = (await pds.procedure<{ blob: unknown }>('com.atproto.repo.uploadBlob', demoPng(48), { ...auth, encoding: 'image/png' })).body.blob
  await create('app.bsky.feed.post', {
    $type: 'app.bsky.feed.post',
    text: 'with an image',
    createdAt: createdAt(),
    embed: { $type: 'app.bsky.embed.images', images: [{ image: blob, alt: 'a test image' }] },
  })
  await create('app.bsky.feed.like', { $type: 'app.bsky.feed.like', subject: first, createdAt: createdAt() })
  await create('app.bsky.graph.follow', { $type: 'app.bsky.graph.follow', subject: 'did:plc:ewvi7nxzyoun6zhxrhs64oiz', createdAt: createdAt() })
  const preferences = [{ $type: 'app.bsky.actor.defs#adultContentPref', enabled: false }]
  try {
    await pds.procedure('app.bsky.actor.putPreferences', { preferences }, auth)
  } catch (err) {
    // The reference serves preferences only with an AppView configured (the runner has none).
    process.stderr.write(`seed: no preferences on ${pdsUrl}: ${err instanceof Error ? err.message : String(err)}\n`)
  }
  return account
}

/** Runs `atfed account migrate`; answers its PLC-token prompt with `token()` (called once the old PDS issued one). */
function migrate(options: { from: string; to: string; handle: string; plc: string; extra: string[]; token?: () => string }): Promise<void> {
  const args = [BIN, 'account', 'migrate', '--from', options.from, '--to', options.to, '--handle', options.handle, '--password', PASSWORD]
  args.push('--plc', options.plc, ...options.extra)
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8')
    process.stderr.write(text)
    stderr += text
    if (options.token !== undefined && text.includes('PLC operation token from the old PDS')) child.stdin.write(`${options.token()}\n`)
  })
  child.stdout.on('data', (chunk: Buffer) => process.stderr.write(chunk))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), MIGRATE_TIMEOUT_MS)
    child.once('exit', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`atfed account migrate exited ${code}: ${stderr.split('\n').slice(-3).join(' ')}`))
    })
  })
}

async function main(): Promise<number> {
  const failures: string[] = []
  const ref: RefPds = await startRefPds(PEERS_DIR)
  const atfed = await startAtfedPds(ref.plcUrl)
  const ref2: RefPds = await startRefPds(PEERS_DIR, { plcUrl: ref.plcUrl })
  const summary: Record<string, unknown> = { ref: ref.pdsUrl, atfed: atfed.url, ref2: ref2.pdsUrl, plc: ref.plcUrl }
  try {
    const handle = `mig${Date.now().toString(36)}.test`
    const seeded = await seed(ref.pdsUrl, handle)
    summary['did'] = seeded.did
    const before: Snapshot = await snapshot(ref.pdsUrl, { identifier: handle, password: PASSWORD })
    let started = Date.now()
    await migrate({ from: ref.pdsUrl, to: atfed.url, handle, plc: ref.plcUrl, extra: [], token: () => refPlcToken(PEERS_DIR, ref, seeded.did) })
    summary['refToAtfedMs'] = Date.now() - started
    failures.push(...(await checkMoved({ before, from: ref.pdsUrl, to: atfed.url, plc: ref.plcUrl, password: PASSWORD, label: 'reference → atfed' })))

    const middle: Snapshot = await snapshot(atfed.url, { identifier: handle, password: PASSWORD })
    started = Date.now()
    await migrate({ from: atfed.url, to: ref2.pdsUrl, handle, plc: ref.plcUrl, extra: ['--from-admin-password', atfed.adminPassword] })
    summary['atfedToRefMs'] = Date.now() - started
    failures.push(...(await checkMoved({ before: middle, from: atfed.url, to: ref2.pdsUrl, plc: ref.plcUrl, password: PASSWORD, label: 'atfed → reference' })))
    summary['records'] = { before: before.records.size, afterRoundTrip: middle.records.size + 1 }
  } catch (err) {
    failures.push(`run: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    await atfed.stop()
    await ref2.stop()
    await ref.stop()
  }
  summary['ok'] = failures.length === 0
  summary['failures'] = failures
  console.log(JSON.stringify(summary))
  return failures.length === 0 ? 0 : 1
}

process.exitCode = await main()
