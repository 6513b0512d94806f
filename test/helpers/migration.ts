/**
 * Two test PDSes (A and B, admin passwords `admin-a` / `admin-b`) on one
 * PLC directory, and an account on A with a few records: the starting point
 * of the migration tests. `createOnB` does steps 2–4 of the standard flow
 * (getServiceAuth on A, createAccount with the DID on B).
 */
import { AtpAgent } from '@atproto/api'
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { Did } from '../../core/syntax/did.ts'
import type { PdsConfig } from '../../pds/config.ts'
import { startPlcForPds, startTestPds, xrpc, type TestPds, type XrpcReply } from './pds.ts'
import type { TestPlc } from './plc.ts'

export const MIGRATION_PASSWORD = 'migrate-me-please'

export type MigrationWorld = {
  plc: TestPlc
  a: TestPds
  b: TestPds
  /** alice on A: a session with the main password, and her DID. */
  alice: { did: Did; accessJwt: string; agent: AtpAgent }
  stop(): Promise<void>
}

export async function startMigrationWorld(options: { b?: Partial<PdsConfig> } = {}): Promise<MigrationWorld> {
  const plc = await startPlcForPds()
  const a = await startTestPds({ plc, config: { adminPassword: 'admin-a' } })
  const b = await startTestPds({ plc, config: { adminPassword: 'admin-b', ...options.b } })
  const agent = new AtpAgent({ service: a.publicUrl })
  const created = await agent.createAccount({ handle: 'alice.test', password: MIGRATION_PASSWORD, email: 'alice@example.com' })
  for (const text of ['one', 'two', 'three']) {
    const post = await agent.post({ text, createdAt: new Date().toISOString() })
    await agent.like(post.uri, post.cid)
  }
  return {
    plc,
    a,
    b,
    alice: { did: created.data.did as Did, accessJwt: created.data.accessJwt, agent },
    stop: async () => {
      await a.stop()
      await b.stop()
      await plc.stop()
    },
  }
}

/** The account's repo signing key on `pds`. */
export async function signingKeyOf(pds: TestPds, did: Did): Promise<Keypair> {
  const account = await pds.ctx.accounts.get(did)
  if (account === null) throw new Error(`no account ${did}`)
  return pds.ctx.signingKeys.get(account)
}

/** getServiceAuth on `pds` with `token`. */
export function getServiceAuth(pds: TestPds, token: string, params: Record<string, string>): Promise<XrpcReply> {
  return xrpc(pds.publicUrl, 'com.atproto.server.getServiceAuth', { params, token })
}

/** createAccount on `pds` for an existing DID, with `authorization` as the header (or none). */
export function createWithDid(pds: TestPds, body: Record<string, unknown>, authorization?: string): Promise<XrpcReply> {
  return xrpc(pds.publicUrl, 'com.atproto.server.createAccount', {
    body: { password: MIGRATION_PASSWORD, ...body },
    ...(authorization === undefined ? {} : { auth: authorization }),
  })
}

/** Steps 2–4: a createAccount token from A, then the account on B (deactivated). Returns B's session. */
export async function createOnB(world: MigrationWorld, handle = 'alice-b.test'): Promise<{ accessJwt: string }> {
  const { a, b, alice } = world
  const token = await getServiceAuth(a, alice.accessJwt, { aud: b.ctx.serviceDid, lxm: 'com.atproto.server.createAccount' })
  if (token.status !== 200) throw new Error(`getServiceAuth: ${JSON.stringify(token.body)}`)
  const created = await createWithDid(b, { did: alice.did, handle }, `Bearer ${token.body.token}`)
  if (created.status !== 200) throw new Error(`createAccount: ${JSON.stringify(created.body)}`)
  return { accessJwt: created.body.accessJwt }
}

/** getRepo of `did` on `pds` as CAR bytes. */
export async function getRepoCar(pds: TestPds, did: Did, token?: string): Promise<Uint8Array> {
  const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.sync.getRepo?did=${did}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  })
  if (res.status !== 200) throw new Error(`getRepo: ${res.status} ${await res.text()}`)
  return new Uint8Array(await res.arrayBuffer())
}

/** importRepo of `car` on `pds`. */
export async function importCar(pds: TestPds, token: string, car: Uint8Array): Promise<XrpcReply> {
  const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.repo.importRepo`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.ipld.car' },
    body: car,
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers }
}
