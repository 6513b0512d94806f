/**
 * zstd for compressed Jetstream subscribers (`compress=true` or the
 * `Socket-Encoding: zstd` header): each message is compressed once, as one
 * zstd frame, and the same bytes go to every compressed subscriber as a
 * binary WebSocket message.
 *
 * Two sources, the first one present wins:
 * 1. `node:zlib` `zstdCompressSync` (Node >= 22.15). A dictionary is passed
 *    as the `dictionary` option; a self-check at load compresses a sample
 *    of the dictionary with and without it, and if the outputs are equal
 *    (this Node ignores the option) compression is unavailable.
 * 2. the npm package `@bokuweb/zstd-wasm` (zstd compiled to WebAssembly:
 *    no install script, no native build, no platform packages), for Node 20.
 *    It is in package.json; should it be missing (a trimmed install), this
 *    source is simply absent. Its wasm is instantiated once, when this
 *    module is first imported, and only if node:zlib has no zstd (hence the
 *    top-level await). Measured here on ~0.8 KB Jetstream JSON messages at
 *    level 3: ~21 µs per message (best of 5, one core); with a
 *    110 KB dictionary ~180 µs, as its API reloads the dictionary on every
 *    call. Either way once per message, not per subscriber.
 * With neither, `compress=true` is refused with `CompressionUnavailable`.
 * (The native npm bindings either download binaries at install or, for the
 * one that ships platform packages, cannot be locked for `npm ci` from our
 * registry.)
 *
 * Dictionary: Jetstream's public instances use their own trained
 * dictionary, which clients must also hold. We take the dictionary bytes as
 * an option (e.g. Jetstream's file, or one trained with `zstd --train` on
 * our own output) and use no dictionary when none is given; a client then
 * decodes with plain zstd. Both sources produce standard zstd frames, so
 * either decodes the other's.
 */
import { createRequire } from 'node:module'
import zlib from 'node:zlib'

/** The npm package used when node:zlib has no zstd. */
export const WASM_ZSTD_PACKAGE = '@bokuweb/zstd-wasm'

export type ZstdCodec = {
  readonly source: 'node:zlib' | typeof WASM_ZSTD_PACKAGE
  compress(data: Buffer): Buffer
  decompress(data: Buffer): Buffer
}

type NodeZstd = {
  zstdCompressSync?: (data: Buffer, options?: object) => Buffer
  zstdDecompressSync?: (data: Buffer, options?: object) => Buffer
  constants: Record<string, number>
}

/** The part of @bokuweb/zstd-wasm's API used here. */
type WasmZstd = {
  init(): Promise<void>
  compress(data: Uint8Array, level?: number): Uint8Array
  decompress(data: Uint8Array, options?: { defaultHeapSize?: number }): Uint8Array
  createCCtx(): number
  createDCtx(): number
  compressUsingDict(cctx: number, data: Uint8Array, dict: Uint8Array, level?: number): Uint8Array
  decompressUsingDict(dctx: number, data: Uint8Array, dict: Uint8Array, options?: { defaultHeapSize?: number }): Uint8Array
}

/** Output room for a frame that does not state its size (ours always do; this is for foreign frames in tests). */
const DECOMPRESS_UNSIZED_BYTES_MAX = 1 << 20

function nodeZstd(): NodeZstd | null {
  const z = zlib as unknown as NodeZstd
  const ok = z.zstdCompressSync !== undefined && z.zstdDecompressSync !== undefined && z.constants.ZSTD_c_compressionLevel !== undefined
  return ok ? z : null
}

async function loadWasm(): Promise<WasmZstd | null> {
  let mod: WasmZstd
  try {
    mod = createRequire(import.meta.url)(WASM_ZSTD_PACKAGE) as WasmZstd
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND') return null // not installed
    throw err // installed but broken: say so rather than silently refuse compression
  }
  await mod.init()
  return mod
}

const wasm: WasmZstd | null = nodeZstd() === null ? await loadWasm() : null

function fromNodeZlib(level: number, dictionary: Buffer | null): ZstdCodec | null {
  const z = nodeZstd()
  if (z === null) return null
  const compressSync = z.zstdCompressSync!
  const decompressSync = z.zstdDecompressSync!
  const levelParam = z.constants.ZSTD_c_compressionLevel!
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

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

function fromWasm(level: number, dictionary: Buffer | null): ZstdCodec | null {
  if (wasm === null) return null
  const sized = { defaultHeapSize: DECOMPRESS_UNSIZED_BYTES_MAX }
  // One compression context for the codec's life (the relay makes one codec):
  // its plain `compress` makes and frees a context per call, ~1.5x slower. An
  // empty dictionary is no dictionary: the frames decode with plain zstd.
  const cctx = wasm.createCCtx()
  const dict = dictionary ?? new Uint8Array(0)
  const compress = (data: Buffer): Buffer => asBuffer(wasm.compressUsingDict(cctx, data, dict, level))
  if (dictionary === null) return { source: WASM_ZSTD_PACKAGE, compress, decompress: (data) => asBuffer(wasm.decompress(data, sized)) }
  const dctx = wasm.createDCtx()
  return { source: WASM_ZSTD_PACKAGE, compress, decompress: (data) => asBuffer(wasm.decompressUsingDict(dctx, data, dictionary, sized)) }
}

/** zstd from this runtime or the wasm package, or null when there is neither. */
export function loadZstd(options: { level: number; dictionary?: Uint8Array | null }): ZstdCodec | null {
  const dictionary = options.dictionary == null ? null : Buffer.from(options.dictionary)
  return fromNodeZlib(options.level, dictionary) ?? fromWasm(options.level, dictionary)
}
