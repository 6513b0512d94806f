/**
 * zstd on the Jetstream endpoint: `compress=true` and `Socket-Encoding: zstd`
 * give binary frames that decompress to exactly the JSON an uncompressed
 * subscriber gets, compressed once and shared; a configured dictionary is
 * really used; the runtime's zstd round-trips. zstd comes from node:zlib
 * (Node >= 22.15) or, on Node 20, the @bokuweb/zstd-wasm dependency; with
 * neither these would be skipped, and jetstream-limits.test.ts checks that
 * compression is refused with CompressionUnavailable.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import zlib from 'node:zlib'
import { JETSTREAM_ZSTD_LEVEL } from '../../core/limits.ts'
import { loadZstd, WASM_ZSTD_PACKAGE } from '../../relay/jetstream/zstd.ts'
import { ALICE, BOB, create, openJsonReader, withJet } from './jetstream-harness.ts'

const POST = 'app.bsky.feed.post'
const codec = loadZstd({ level: JETSTREAM_ZSTD_LEVEL })
const nodeHasZstd = 'zstdCompressSync' in zlib

test('compressed subscribers get zstd frames of exactly the JSON others get, compressed once', { skip: codec === null }, () =>
  withJet({}, async (h) => {
    const plain = openJsonReader(h.url())
    const byQuery = openJsonReader(h.url('compress=true'), { decompress: (d) => codec!.decompress(d) })
    const byHeader = openJsonReader(h.url(), { headers: { 'Socket-Encoding': 'zstd' }, decompress: (d) => codec!.decompress(d) })
    await Promise.all([plain.opened, byQuery.opened, byHeader.opened])
    for (let i = 0; i < 20; i++) {
      const text = `post number ${i} `.repeat(20)
      await h.commit(i % 2 ? ALICE : BOB, [create(POST, `k${i}`, { $type: POST, text, createdAt: '2025-01-01T00:00:00.000Z' })])
    }
    await h.identity(BOB, 'bob.test')
    for (const r of [plain, byQuery, byHeader]) await r.until((x) => x.messages.length === 21)
    assert.ok(plain.raw.every((m) => !m.binary))
    assert.ok(byQuery.raw.every((m) => m.binary) && byHeader.raw.every((m) => m.binary))
    assert.deepEqual(
      byQuery.raw.map((m) => codec!.decompress(m.data).toString()),
      plain.raw.map((m) => m.data.toString()),
      'the JSON text is byte-identical',
    )
    assert.deepEqual(byHeader.raw.map((m) => m.data), byQuery.raw.map((m) => m.data), 'one compression shared by both')
    const plainBytes = plain.raw.reduce((n, m) => n + m.data.length, 0)
    const zstdBytes = byQuery.raw.reduce((n, m) => n + m.data.length, 0)
    assert.ok(zstdBytes < plainBytes / 2, `zstd ${zstdBytes} vs JSON ${plainBytes} bytes`)
    assert.equal(h.jet.stats().compression, codec!.source)
    for (const r of [plain, byQuery, byHeader]) r.ws.close()
  }))

test('a configured zstd dictionary is used: frames decode with it and not without it', { skip: codec === null }, () => {
  // A raw-content dictionary: text that records on this stream share.
  const dictionary = Buffer.from(
    Array.from({ length: 40 }, (_, i) => `{"did":"${ALICE}","kind":"commit","commit":{"operation":"create","collection":"${POST}","record":{"$type":"${POST}","text":"shared words ${i}"}}}`).join(''),
  )
  const withDict = loadZstd({ level: JETSTREAM_ZSTD_LEVEL, dictionary })!
  return withJet({ jetstream: { zstdDictionary: dictionary } }, async (h) => {
    const reader = openJsonReader(h.url('compress=true'), { decompress: (d) => withDict.decompress(d) })
    await reader.opened
    await h.commit(ALICE, [create(POST, 'k1', { $type: POST, text: 'shared words 7' })])
    await reader.until((r) => r.messages.length === 1)
    assert.equal(reader.messages[0]!.commit!.rkey, 'k1')
    const frame = reader.raw[0]!.data
    let plainDecode: string | null = null
    try {
      plainDecode = codec!.decompress(frame).toString()
    } catch {
      plainDecode = null
    }
    assert.notEqual(plainDecode, withDict.decompress(frame).toString(), 'the frame needs the dictionary')
    reader.ws.close()
  })
})

{
  const only = codec
  test('this runtime\'s zstd (node:zlib, else the wasm package) round-trips standard zstd frames', { skip: only === null }, () => {
    assert.equal(only!.source, nodeHasZstd ? 'node:zlib' : WASM_ZSTD_PACKAGE)
    const json = Buffer.from(JSON.stringify({ did: ALICE, time_us: 1, kind: 'commit', text: 'x'.repeat(1000) }))
    const compressed = only!.compress(json)
    assert.ok(compressed.length < json.length / 4)
    assert.deepEqual(only!.decompress(compressed), json)
    assert.deepEqual(compressed.subarray(0, 4), Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 'a zstd frame')
    // A frame made elsewhere (level 19, no content size in the header) decodes too.
    const foreign = execFileSync('zstd', ['-19', '-c', '--no-check'], { input: json })
    assert.deepEqual(only!.decompress(foreign), json)
  })
}
