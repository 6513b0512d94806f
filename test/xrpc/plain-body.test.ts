/**
 * core/xrpc/body.ts `readRequestBody` for bodies without Content-Encoding
 * (read straight from the request, `readPlainBody`) against the streamed
 * path (a body with `Content-Encoding: identity` takes it): for the same
 * requests both give the same bytes or the same error name — exactly the
 * cap, one byte over (declared and chunked), a stalled body and a trickle
 * on the whole-body clock, an idle pause shorter than the whole-body clock,
 * a client that goes away mid-body.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { discardRequestBody, readRequestBody } from '../../core/xrpc/body.ts'
import { rawRequest } from './demo-server.ts'

const CAP = 100
const LIMITS = { bytesMax: CAP, timeoutMs: 400 }
const IDLE_LIMITS = { bytesMax: CAP, timeoutMs: 2_000, idleTimeoutMs: 200 }

type Outcome = { ok: string } | { error: string }

describe('readRequestBody without Content-Encoding', () => {
  let server: http.Server
  let origin: string
  const seen: Outcome[] = []

  before(async () => {
    server = http.createServer((req, res) => {
      const limits = req.url === '/idle' ? IDLE_LIMITS : LIMITS
      readRequestBody(req, limits).then(
        (bytes) => {
          seen.push({ ok: bytes.toString() })
          res.end(JSON.stringify({ ok: bytes.toString() }))
        },
        (err: { name: string }) => {
          seen.push({ error: err.name })
          discardRequestBody(req, res)
          res.statusCode = 400
          res.end(JSON.stringify({ error: err.name }))
        },
      )
    })
    server.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  /** The outcome of the same request through both paths. */
  async function both(opts: { path?: string; headers?: http.OutgoingHttpHeaders; chunks: Uint8Array[]; gapMs?: number; end?: boolean }): Promise<[Outcome, Outcome]> {
    const out: Outcome[] = []
    for (const encoding of [undefined, 'identity']) {
      const headers = { ...opts.headers, ...(encoding === undefined ? {} : { 'content-encoding': encoding }) }
      const res = await rawRequest(origin, { method: 'POST', path: opts.path ?? '/', ...opts, headers })
      out.push(JSON.parse(res.body) as Outcome)
    }
    return out as [Outcome, Outcome]
  }

  const bytes = (n: number) => new Uint8Array(n).fill(0x61)

  it('reads the body in chunks, up to exactly the cap', { timeout: 10_000 }, async () => {
    const [plain, streamed] = await both({ headers: { 'content-length': String(CAP) }, chunks: [bytes(40), bytes(60)] })
    assert.deepEqual(plain, { ok: 'a'.repeat(CAP) })
    assert.deepEqual(plain, streamed)
  })

  it('refuses one byte over the cap, declared or counted while streaming (413)', { timeout: 10_000 }, async () => {
    const declared = await both({ headers: { 'content-length': String(CAP + 1) }, chunks: [bytes(CAP + 1)] })
    assert.deepEqual(declared, [{ error: 'PayloadTooLarge' }, { error: 'PayloadTooLarge' }])
    const chunked = await both({ headers: { 'transfer-encoding': 'chunked' }, chunks: [bytes(60), bytes(41)], gapMs: 20 })
    assert.deepEqual(chunked, [{ error: 'PayloadTooLarge' }, { error: 'PayloadTooLarge' }])
  })

  it('times out a stalled body and a trickle on the whole-body clock (408)', { timeout: 10_000 }, async () => {
    const stalled = await both({ headers: { 'content-length': '50' }, chunks: [bytes(10)], end: false })
    assert.deepEqual(stalled, [{ error: 'RequestTimeout' }, { error: 'RequestTimeout' }])
    const trickle = await both({ headers: { 'content-length': '50' }, chunks: Array.from({ length: 50 }, () => bytes(1)), gapMs: 30, end: false })
    assert.deepEqual(trickle, [{ error: 'RequestTimeout' }, { error: 'RequestTimeout' }])
  })

  it('times out an idle pause shorter than the whole-body clock (408), not a steady body', { timeout: 10_000 }, async () => {
    const paused = await both({ path: '/idle', headers: { 'content-length': '50' }, chunks: [bytes(10)], end: false })
    assert.deepEqual(paused, [{ error: 'RequestTimeout' }, { error: 'RequestTimeout' }])
    const steady = await both({ path: '/idle', headers: { 'content-length': '10' }, chunks: Array.from({ length: 10 }, () => bytes(1)), gapMs: 50 })
    assert.deepEqual(steady, [{ ok: 'a'.repeat(10) }, { ok: 'a'.repeat(10) }])
  })

  it('fails a body whose client goes away (400 InvalidRequest)', { timeout: 10_000 }, async () => {
    for (const encoding of [undefined, 'identity']) {
      const before = seen.length
      const req = http.request(`${origin}/`, {
        method: 'POST',
        headers: { 'content-length': '50', ...(encoding === undefined ? {} : { 'content-encoding': encoding }) },
      })
      req.on('error', () => {})
      req.write(bytes(10))
      await new Promise((resolve) => setTimeout(resolve, 50))
      req.destroy()
      const deadline = Date.now() + 5_000
      while (seen.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.deepEqual(seen.at(-1), { error: 'InvalidRequest' }, String(encoding))
    }
  })
})
