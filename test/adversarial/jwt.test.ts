/**
 * Adversarial cases §4.6 (authentication and JWTs), over HTTP to a PDS:
 * malformed bearer tokens (huge, non-JSON segments, extra dots, base64
 * garbage) on a session route and on a route that also takes service JWTs
 * are refused cheaply by name, and the PDS keeps answering. The other §4.6
 * cases (alg confusion, exp/iat/aud/lxm, type confusion, refresh rotation,
 * takedown) run over HTTP or at the verifier in test/crypto/*.test.ts,
 * test/xrpc/service-auth.test.ts, test/pds/*.test.ts and
 * test/feedgen/service.test.ts; the BEHAVIORS.md table names each.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestAccount, startPlcForPds, startTestPds, xrpc, type TestPds } from '../helpers/pds.ts'
import type { TestPlc } from '../helpers/plc.ts'

const b64 = (s: string) => Buffer.from(s).toString('base64url')

describe('adversarial §4.6: JWTs (bearer tokens at the PDS over HTTP)', { timeout: 60_000 }, () => {
  let plc: TestPlc
  let pds: TestPds
  let token: string
  before(async () => {
    plc = await startPlcForPds()
    pds = await startTestPds({ plc })
    token = (await createTestAccount(pds.publicUrl, 'jwt-case.test')).accessJwt
  })
  after(async () => {
    await pds.stop()
    await plc.stop()
  })

  async function answers(): Promise<void> {
    const session = await xrpc(pds.publicUrl, 'com.atproto.server.getSession', { token })
    assert.equal(session.status, 200, JSON.stringify(session.body))
  }

  it('4.6.7 a 100 KB token, an 8 KB header segment, non-JSON segments, extra dots: refused cheaply by name', { timeout: 30_000 }, async () => {
    const huge = `Bearer ${'a'.repeat(100_000)}`
    const res = await fetch(`${pds.publicUrl}/xrpc/com.atproto.server.getSession`, { headers: { authorization: huge } })
    await res.arrayBuffer()
    assert.equal(res.status, 431, 'Node refuses the request head before any handler (max header size)')
    await answers()
    const [h, p, s] = token.split('.') as [string, string, string]
    const bad = [
      `${b64(JSON.stringify({ alg: 'HS256', pad: 'x'.repeat(8_000) }))}.${p}.${s}`, // 8 KB header: under Node's cap
      `${b64('not json')}.${p}.${s}`,
      `${h}.${b64('[1,2')}.${s}`,
      `${h}.${p}.${s}.extra`,
      `${h}..${s}`,
      `${h}.${p}`,
      '***.***.***',
    ]
    for (const nsid of ['com.atproto.server.getSession', 'com.atproto.repo.uploadBlob']) {
      for (const jwt of bad) {
        const started = performance.now()
        const reply = await xrpc(pds.publicUrl, nsid, { token: jwt, method: nsid.endsWith('uploadBlob') ? 'POST' : 'GET' })
        assert.ok([400, 401].includes(reply.status), `${nsid} ${jwt.slice(0, 40)}: ${reply.status} ${JSON.stringify(reply.body)}`)
        assert.ok(['InvalidToken', 'BadJwt', 'AuthenticationRequired', 'ExpiredToken'].includes(reply.body?.error), JSON.stringify(reply.body))
        assert.ok(performance.now() - started < 3_000, 'refused cheaply')
      }
    }
    await answers()
  })

  it('4.6.6 not applicable: no jti replay cache (service JWTs live ≤ 60 s by default, as in the reference; the case says "if we add one")', { skip: 'not applicable: atfed keeps no jti replay cache' }, () => {})
})
