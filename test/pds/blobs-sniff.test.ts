/**
 * Blob type sniffing (pds/blobs/sniff.ts) and the record walk that finds
 * blob refs (pds/blobs/record-blobs.ts): signature vectors first, then the
 * declared-type and text fallbacks, then seeded random inputs; and which
 * writes the blob hook lets the group commit pipeline.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cidForCbor, cidForRaw } from '../../core/data/cid.ts'
import { chooseMimeType, looksLikeText, sniffMagic, usableDeclaredType } from '../../pds/blobs/sniff.ts'
import { findRecordBlobs } from '../../pds/blobs/record-blobs.ts'
import { blobHookPipelineSafe } from '../../pds/blobs/write-hook.ts'
import type { PdsWrite } from '../../pds/writes.ts'
import type { Nsid } from '../../core/syntax/nsid.ts'
import type { RecordKey } from '../../core/syntax/record-key.ts'
import { makePng } from '../helpers/png.ts'
import { makeRng } from '../helpers/prng.ts'

const enc = (s: string) => new TextEncoder().encode(s)
const cat = (...parts: Array<Uint8Array | number[] | string>) =>
  new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))))
const ftyp = (brand: string) => cat([0, 0, 0, 0x1c], 'ftyp', brand, [0, 0, 2, 0], 'isommp41')
const ebml = (doctype: string) => cat([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84], doctype, [0x42, 0x87])

const VECTORS: Array<[string, Uint8Array, string]> = [
  ['png', makePng(), 'image/png'],
  ['jpeg (JFIF)', cat([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0]), 'image/jpeg'],
  ['jpeg (Exif)', cat([0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10], 'Exif', [0]), 'image/jpeg'],
  ['gif87a', cat('GIF87a', [1, 0, 1, 0]), 'image/gif'],
  ['gif89a', cat('GIF89a', [1, 0, 1, 0]), 'image/gif'],
  ['webp', cat('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 '), 'image/webp'],
  ['avif', ftyp('avif'), 'image/avif'],
  ['avif sequence', ftyp('avis'), 'image/avif'],
  ['heic', ftyp('heic'), 'image/heic'],
  ['heif', ftyp('mif1'), 'image/heif'],
  ['mp4 isom', ftyp('isom'), 'video/mp4'],
  ['mp4 mp42', ftyp('mp42'), 'video/mp4'],
  ['mp4 unknown brand', ftyp('zzzz'), 'video/mp4'],
  ['quicktime', ftyp('qt  '), 'video/quicktime'],
  ['3gp', ftyp('3gp5'), 'video/3gpp'],
  ['webm', ebml('webm'), 'video/webm'],
  ['matroska', ebml('matroska'), 'video/x-matroska'],
  ['tiff le', cat([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0]), 'image/tiff'],
  ['tiff be', cat([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]), 'image/tiff'],
  ['bmp', cat('BM', new Array(20).fill(0)), 'image/bmp'],
  ['pdf', enc('%PDF-1.7\n'), 'application/pdf'],
  ['ogg', cat('OggS', [0, 2]), 'audio/ogg'],
  ['wav', cat('RIFF', [0x24, 0, 0, 0], 'WAVEfmt '), 'audio/wav'],
  ['mp3 (ID3)', cat('ID3', [4, 0, 0]), 'audio/mpeg'],
]

describe('blob type sniffing', () => {
  for (const [name, bytes, type] of VECTORS) {
    it(`sniffs ${name} as ${type}`, () => {
      assert.equal(sniffMagic(bytes), type)
      assert.equal(chooseMimeType(bytes, 'application/x-declared'), type, 'a signature beats the declared type')
      assert.equal(chooseMimeType(bytes, '*/*'), type)
    })
  }

  it('recognises no signature in near misses', () => {
    for (const bytes of [
      cat([0x89, 0x50, 0x4e, 0x47]), // PNG cut short
      cat('GIF88a'),
      cat('RIFF', [0, 0, 0, 0], 'XXXX'),
      cat([0, 0, 0, 0x10], 'ftyp'), // no brand yet
      cat([0, 0, 0, 0x10], 'moov', 'isom'),
      cat([0xff, 0xd8]),
      cat('BM'), // too short for a bitmap header
      new Uint8Array(0),
    ]) {
      assert.equal(sniffMagic(bytes), null, Buffer.from(bytes).toString('hex'))
    }
  })

  it('falls back to a concrete declared type, then text, then octet-stream', () => {
    const binary = cat([0x01, 0x02, 0x03, 0x04, 0xfe])
    assert.equal(chooseMimeType(enc('WEBVTT\n\n00:00.000 --> 00:01.000\nhi'), 'text/vtt'), 'text/vtt')
    assert.equal(chooseMimeType(binary, 'Application/X-Thing; charset=utf-8'), 'application/x-thing')
    assert.equal(chooseMimeType(binary, '*/*'), 'application/octet-stream')
    assert.equal(chooseMimeType(binary, undefined), 'application/octet-stream')
    assert.equal(chooseMimeType(enc('plain words, ünïcödé too\n'), '*/*'), 'text/plain')
    assert.equal(chooseMimeType(new Uint8Array(0), undefined), 'application/octet-stream')
  })

  it('keeps only well-formed declared types', () => {
    assert.equal(usableDeclaredType('image/png'), 'image/png')
    assert.equal(usableDeclaredType('video/mp4; codecs="avc1"'), 'video/mp4')
    for (const bad of ['*/*', 'image/*', 'image', 'a/b/c', '/png', 'image/', 'ima ge/png', 'image/p<ng', `x/${'a'.repeat(300)}`, '', undefined]) {
      assert.equal(usableDeclaredType(bad), null, String(bad))
    }
  })

  it('tells text from binary, tolerating a character cut at the end', () => {
    const euro = enc('price: 5€')
    assert.equal(looksLikeText(euro), true)
    assert.equal(looksLikeText(euro.subarray(0, euro.length - 1)), true, 'cut inside the last character')
    assert.equal(looksLikeText(euro.subarray(0, euro.length - 2)), true)
    assert.equal(looksLikeText(cat('abc', [0xff], 'def')), false)
    assert.equal(looksLikeText(cat('abc', [0x00])), false)
    assert.equal(looksLikeText(cat('abc', [0xe2, 0x82], 'x')), false, 'a broken sequence in the middle')
    assert.equal(looksLikeText(new Uint8Array(0)), false)
  })

  it('always answers a type/subtype for random input, and signatures win over random tails', () => {
    const rng = makeRng(0xb10b)
    const shape = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/
    for (let i = 0; i < 2_000; i++) {
      const bytes = rng.bytes(rng.int(64))
      const declared = rng.pick([undefined, '*/*', 'image/jpeg', 'nonsense', 'text/plain'])
      assert.match(chooseMimeType(bytes, declared), shape)
      const [, prefix, type] = rng.pick(VECTORS)
      const headLength = type === 'video/x-matroska' || type === 'video/webm' ? prefix.length : Math.min(prefix.length, 16)
      const withTail = cat(prefix.subarray(0, headLength), rng.bytes(rng.int(32)))
      if (type !== 'video/x-matroska') assert.equal(sniffMagic(withTail), type)
    }
  })
})

describe('finding blob refs in records', () => {
  const blobA = cidForRaw(enc('a'))
  const blobB = cidForRaw(enc('b'))
  const ref = (cid: typeof blobA, mimeType = 'image/png', size = 10) => ({ $type: 'blob', ref: cid, mimeType, size })

  it('finds typed refs anywhere, once per CID, in first-seen order', () => {
    const post = {
      $type: 'app.bsky.feed.post',
      text: 'two images',
      embed: {
        $type: 'app.bsky.embed.recordWithMedia',
        record: { record: { uri: 'at://did:plc:x/app.bsky.feed.post/1', cid: cidForCbor(enc('rec')) } },
        media: { $type: 'app.bsky.embed.images', images: [{ image: ref(blobB), alt: '' }, { image: ref(blobA), alt: '' }, { image: ref(blobB), alt: '' }] },
      },
      bytes: new Uint8Array([1, 2, 3]),
    }
    const found = findRecordBlobs(post)
    assert.deepEqual([...found.keys()], [blobB.toString(), blobA.toString()])
    assert.equal(found.get(blobA.toString())?.mimeType, 'image/png')
    assert.equal(found.get(blobA.toString())?.size, 10)
  })

  it('ignores plain links, malformed blob maps and (unless asked) legacy refs', () => {
    const legacy = { cid: blobA.toString(), mimeType: 'image/jpeg' }
    const record = {
      link: blobA,
      notBlob: { $type: 'blob', ref: blobB, mimeType: 'image/png' }, // no size
      dagCborRef: { $type: 'blob', ref: cidForCbor(enc('x')), mimeType: 'image/png', size: 1 },
      legacy,
    }
    assert.equal(findRecordBlobs(record).size, 0)
    const withLegacy = findRecordBlobs(record, { legacy: true })
    assert.deepEqual([...withLegacy.keys()], [blobA.toString()])
    assert.equal(withLegacy.get(blobA.toString())?.size, null)
  })

  it('lets only blob-free creates be prepared on top of writes not yet durable', () => {
    const base = { collection: 'app.bsky.feed.post' as Nsid, rkey: '3kabc' as RecordKey }
    const plain: PdsWrite = { action: 'create', ...base, record: { $type: 'app.bsky.feed.post', text: 'hi' } }
    const withImage: PdsWrite = { action: 'create', ...base, record: { $type: 'app.bsky.feed.post', embed: { image: ref(blobA) } } }
    assert.equal(blobHookPipelineSafe([plain, plain]), true)
    assert.equal(blobHookPipelineSafe([plain, withImage]), false)
    assert.equal(blobHookPipelineSafe([{ action: 'delete', ...base }]), false, 'the deleted record may have held blobs')
    assert.equal(blobHookPipelineSafe([{ action: 'put', ...base, record: { $type: 'app.bsky.feed.post' } }]), false)
  })
})
