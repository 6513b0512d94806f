/**
 * zstd for compressed Jetstream subscribers (`compress=true` or the
 * `Socket-Encoding: zstd` header): each message is compressed once, as one
 * zstd frame, and the same bytes go to every compressed subscriber as a
 * binary WebSocket message.
 *
 * zstd comes from `node:zlib` `zstdCompressSync` (Node >= 22.15). A
 * dictionary is passed as the `dictionary` option; a self-check at load
 * compresses a sample of the dictionary with and without it, and if the
 * outputs are equal (this Node ignores the option) compression is treated
 * as unavailable. On older Node (20) compression is unavailable and
 * `compress=true` is refused with `CompressionUnavailable`: the npm zstd
 * bindings either download binaries at install or, for the one that ships
 * them in platform packages, cannot be locked for `npm ci` from our
 * registry, so we take no dependency for an optional feature.
 *
 * Dictionary: Jetstream's public instances use their own trained
 * dictionary, which clients must also hold. We take the dictionary bytes as
 * an option (e.g. Jetstream's file, or one trained with `zstd --train` on
 * our own output) and use no dictionary when none is given; a client then
 * decodes with plain zstd.
 */
import zlib from 'node:zlib'

export type ZstdCodec = {
  readonly source: 'node:zlib'
  compress(data: Buffer): Buffer
  decompress(data: Buffer): Buffer
}

type NodeZstd = {
  zstdCompressSync?: (data: Buffer, options?: object) => Buffer
  zstdDecompressSync?: (data: Buffer, options?: object) => Buffer
  constants: Record<string, number>
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

/** zstd from this runtime, or null when it has none. */
export function loadZstd(options: { level: number; dictionary?: Uint8Array | null }): ZstdCodec | null {
  const dictionary = options.dictionary == null ? null : Buffer.from(options.dictionary)
  return fromNodeZlib(options.level, dictionary)
}
