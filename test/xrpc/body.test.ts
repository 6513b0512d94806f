/**
 * Request bodies at their edges over real HTTP: the JSON cap (exactly the cap
 * passes, one byte more is 413, whether announced by Content-Length or only
 * discovered while streaming), content encodings (decoded, the cap applied
 * after decoding so a gzip bomb is 413, unknown codings 415), binary
 * streams, and the slow-loris time limit.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import zlib from 'node:zlib'
import { BLOB_CAP, JSON_CAP, rawRequest, startDemoServer, type DemoServer } from './demo-server.ts'

let server: DemoServer
before(async () => {
  server = await startDemoServer()
})
after(async () => {
  await server.close()
})

/** A JSON document of exactly `bytes` bytes: `{"s":"xxx…"}`. */
function jsonOfSize(bytes: number): Buffer {
  const text = `{"s":"${'x'.repeat(bytes - 8)}"}`
  assert.equal(Buffer.byteLength(text), bytes)
  return Buffer.from(text)
}

function postJson(body: Uint8Array, headers: Record<string, string> = {}) {
  return rawRequest(server.origin, {
    method: 'POST',
    path: '/xrpc/io.example.echoJson',
    headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
    chunks: [body],
  })
}

function errorOf(res: { body: string }): { error: string; message: string } {
  return JSON.parse(res.body)
}

test('JSON body: exactly the cap is accepted, one byte more is 413 (Content-Length)', async () => {
  const ok = await postJson(jsonOfSize(JSON_CAP))
  assert.equal(ok.status, 200)
  assert.equal(JSON.parse(ok.body).got.s.length, JSON_CAP - 8)
  const big = await postJson(jsonOfSize(JSON_CAP + 1))
  assert.equal(big.status, 413)
  assert.deepEqual(errorOf(big), { error: 'PayloadTooLarge', message: 'request entity too large' })
  assert.equal(big.headers['connection'], 'close')
  // The server is still healthy afterwards.
  assert.equal((await postJson(jsonOfSize(10))).status, 200)
})

test('JSON body without Content-Length (chunked): the cap holds while streaming', async () => {
  const send = (body: Buffer) => rawRequest(server.origin, {
    method: 'POST',
    path: '/xrpc/io.example.echoJson',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    chunks: [body.subarray(0, 400), body.subarray(400)],
  })
  assert.equal((await send(jsonOfSize(JSON_CAP))).status, 200)
  const big = await send(jsonOfSize(JSON_CAP + 1))
  assert.equal(big.status, 413)
  assert.equal(errorOf(big).error, 'PayloadTooLarge')
})

test('JSON body: encodings decoded (gzip, deflate, br, stacked) and the cap applies after decoding', async () => {
  const doc = jsonOfSize(JSON_CAP)
  for (const [coding, bytes] of [
    ['gzip', zlib.gzipSync(doc)],
    ['x-gzip', zlib.gzipSync(doc)],
    ['deflate', zlib.deflateSync(doc)],
    ['br', zlib.brotliCompressSync(doc)],
    ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(doc))],
    ['identity', doc],
  ] as const) {
    const r = await postJson(bytes, { 'content-encoding': coding })
    assert.equal(r.status, 200, coding)
  }
  const over = await postJson(zlib.gzipSync(jsonOfSize(JSON_CAP + 1)), { 'content-encoding': 'gzip' })
  assert.equal(over.status, 413)
})

test('gzip bomb: 50 MB of zeros in ~50 KB is 413 after the cap, not decompressed to the end', async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(50_000_000))
  assert.ok(bomb.length < 100_000)
  const started = Date.now()
  const json = await postJson(bomb, { 'content-encoding': 'gzip' })
  assert.equal(json.status, 413)
  const blob = await rawRequest(server.origin, {
    method: 'POST',
    path: '/xrpc/io.example.upload',
    headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip', 'content-length': String(bomb.length) },
    chunks: [bomb],
  })
  assert.equal(blob.status, 413)
  assert.equal(errorOf(blob).error, 'PayloadTooLarge')
  assert.ok(Date.now() - started < 5_000)
})

test('content encodings: unknown or too deeply stacked → 415; corrupt → 400', async () => {
  const doc = jsonOfSize(20)
  const unknown = await postJson(doc, { 'content-encoding': 'compress' })
  assert.equal(unknown.status, 415)
  assert.equal(errorOf(unknown).error, 'UnsupportedMediaType')
  const stacked = await postJson(doc, { 'content-encoding': 'gzip, gzip, gzip' })
  assert.equal(stacked.status, 415)
  const corrupt = await postJson(Buffer.from('definitely not gzip'), { 'content-encoding': 'gzip' })
  assert.equal(corrupt.status, 400)
  assert.equal(errorOf(corrupt).error, 'InvalidRequest')
})

test('JSON input checks: content type, missing body, bad JSON, bad Content-Length', async () => {
  const wrongType = await postJson(jsonOfSize(20), { 'content-type': 'text/plain' })
  assert.equal(wrongType.status, 400)
  assert.equal(errorOf(wrongType).message, 'Wrong request encoding (Content-Type): text/plain')
  const withCharset = await postJson(jsonOfSize(20), { 'content-type': 'application/json; charset=utf-8' })
  assert.equal(withCharset.status, 200)
  const missing = await rawRequest(server.origin, { method: 'POST', path: '/xrpc/io.example.echoJson', headers: { 'content-type': 'application/json' } })
  assert.equal(missing.status, 400)
  assert.equal(errorOf(missing).message, 'A request body is expected but none was provided')
  const bad = await postJson(Buffer.from('{"a":'))
  assert.equal(bad.status, 400)
  assert.equal(errorOf(bad).error, 'InvalidRequest')
  const badUtf8 = await postJson(Buffer.from([0x22, 0xff, 0x22]))
  assert.equal(badUtf8.status, 400)
})

test('binary input: streamed to the handler with its type; exactly the cap passes, more is 413', async () => {
  const upload = (bytes: Uint8Array, type = 'image/png') => rawRequest(server.origin, {
    method: 'POST',
    path: '/xrpc/io.example.upload',
    headers: { 'content-type': type, 'transfer-encoding': 'chunked' },
    chunks: [bytes.subarray(0, 3_000), bytes.subarray(3_000)],
  })
  const ok = await upload(new Uint8Array(BLOB_CAP))
  assert.equal(ok.status, 200)
  assert.deepEqual(JSON.parse(ok.body), { size: BLOB_CAP, encoding: 'image/png' })
  assert.equal(JSON.parse((await upload(new Uint8Array(5), '*/*')).body).encoding, '*/*')
  const big = await upload(new Uint8Array(BLOB_CAP + 1))
  assert.equal(big.status, 413)
})

test('slow body: a stalled upload and a trickling one both end in 408 RequestTimeout', async () => {
  const started = Date.now()
  const stalled = await rawRequest(server.origin, {
    method: 'POST',
    path: '/xrpc/io.example.upload',
    headers: { 'content-type': 'application/octet-stream', 'content-length': '100' },
    chunks: [new Uint8Array(10)],
    end: false,
  })
  assert.equal(stalled.status, 408)
  assert.equal(errorOf(stalled).error, 'RequestTimeout')
  assert.equal(stalled.headers['connection'], 'close')
  // One byte every 100 ms never trips an idle timer, but the whole-body limit (500 ms) holds.
  const trickle = await rawRequest(server.origin, {
    method: 'POST',
    path: '/xrpc/io.example.upload',
    headers: { 'content-type': 'application/octet-stream', 'content-length': '100' },
    chunks: Array.from({ length: 100 }, () => new Uint8Array(1)),
    gapMs: 100,
    end: false,
  })
  assert.equal(trickle.status, 408)
  assert.ok(Date.now() - started < 5_000)
})
