/**
 * zstd for compressed Jetstream subscribers (`compress=true` or the
 * `Socket-Encoding: zstd` header): each message is compressed once, as one
 * zstd frame, and the same bytes go to every compressed subscriber as a
 * binary WebSocket message.
 *
 * Where zstd comes from, in order:
 * 1. `node:zlib` `zstdCompressSync` (Node >= 22.15). A dictionary is passed
 *    as the `dictionary` option; a self-check at load compresses a sample of
 *    the dictionary with and without it, and if the outputs are equal (this
 *    Node ignores the option) the next source is tried.
 * 2. `@toondepauw/node-zstd` (libzstd behind N-API; its prebuilt binary ships
 *    inside its per-platform registry package, nothing downloads or compiles
 *    at install), loaded lazily so the relay runs without it.
 * 3. Neither: compression is unavailable and `compress=true` is refused.
 *
 * Dictionary: Jetstream's public instances use their own trained
 * dictionary, which clients must also hold. We take the dictionary bytes as
 * an option (e.g. Jetstream's file, or one trained with `zstd --train` on
 * our own output) and use no dictionary when none is given; a client then
 * decodes with plain zstd.
 */
import { createRequire } from 'node:module'
import zlib from 'node:zlib'

export type ZstdCodec = {
  readonly source: 'node:zlib' | '@toondepauw/node-zstd'
  compress(data: Buffer): Buffer
  decompress(data: Buffer): Buffer
}

type NodeZstd = {
  zstdCompressSync?: (data: Buffer, options?: object) => Buffer
  zstdDecompressSync?: (data: Buffer, options?: object) => Buffer
  constants: Record<string, number>
}

type NapiZstd = {
  Encoder: new (level: number, dictionary?: Buffer | null) => { encodeSync(data: Buffer): Buffer }
  Decoder: new (dictionary?: Buffer | null) => { decodeSync(data: Buffer): Buffer }
}

function fromNodeZlib(level: number, dictionary: Buffer | null): ZstdCodec | null {
  const z = zlib as unknown as NodeZstd
  const compressSync = z.zstdCompressSync
  const decompressSync = z.zstdDecompressSync
  const levelParam = z.constants.ZSTD_c_compressionLevel
  if (compressSync === undefined || decompressSync === undefined || levelParam === undefined) return null
  const options = { params: { [levelParam]: level }, ...(dictionary === null ? {} : { dictionary }) }
  if (dictionary !== null) {
    const sample = dictionary.subarray(0, 256)
    if (compressSync(sample, options).equals(compressSync(sample, { params: { [levelParam]: level } }))) return null
  }
  const decodeOptions = dictionary === null ? {} : { dictionary }
  return {
    source: 'node:zlib',
    compress: (data) => compressSync(data, options),
    decompress: (data) => decompressSync(data, decodeOptions),
  }
}

function fromNapi(level: number, dictionary: Buffer | null): ZstdCodec | null {
  let lib: NapiZstd
  try {
    lib = createRequire(import.meta.url)('@toondepauw/node-zstd') as NapiZstd
  } catch {
    return null
  }
  const encoder = new lib.Encoder(level, dictionary)
  const decoder = new lib.Decoder(dictionary)
  return {
    source: '@toondepauw/node-zstd',
    compress: (data) => encoder.encodeSync(data),
    decompress: (data) => decoder.decodeSync(data),
  }
}

/** The best zstd this runtime has, or null. `prefer` skips to one source (tests). */
export function loadZstd(options: {
  level: number
  dictionary?: Uint8Array | null
  prefer?: ZstdCodec['source']
}): ZstdCodec | null {
  const dictionary = options.dictionary == null ? null : Buffer.from(options.dictionary)
  if (options.prefer !== '@toondepauw/node-zstd') {
    const codec = fromNodeZlib(options.level, dictionary)
    if (codec !== null || options.prefer === 'node:zlib') return codec
  }
  return fromNapi(options.level, dictionary)
}
