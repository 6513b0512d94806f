/**
 * A blob's media type, from its first bytes (`PDS_BLOB_SNIFF_BYTES`).
 *
 * Order: (1) a magic-byte signature of a common media type (images, video,
 * a few audio and document types); (2) the type the client declared, if it
 * is a concrete `type/subtype` (goat declares the literal `*`/`*`); (3)
 * `text/plain` when the start is printable UTF-8; (4)
 * `application/octet-stream`. The reference sniffs with `file-type` and
 * falls back to the declared type the same way.
 *
 * What is sniffed is what getBlob later sends as Content-Type, always with
 * `nosniff`, a sandboxing CSP and `attachment`, so a declared `text/html`
 * is harmless there; records must still quote the stored type exactly.
 *
 * Tricky bits: ISO-BMFF (`....ftyp<brand>`) covers AVIF, HEIC, MP4,
 * QuickTime and 3GP; an unknown brand is taken as MP4, as file-type does.
 * Matroska and WebM share a magic number; the EBML doctype decides.
 */
import { PDS_BLOB_MIME_TYPE_LENGTH_MAX } from '../../core/limits.ts'

export const OCTET_STREAM = 'application/octet-stream'

function startsWith(head: Uint8Array, bytes: readonly number[], offset = 0): boolean {
  if (head.length < offset + bytes.length) return false
  for (let i = 0; i < bytes.length; i++) if (head[offset + i] !== bytes[i]) return false
  return true
}

function ascii(head: Uint8Array, start: number, end: number): string {
  return head.length < end ? '' : String.fromCharCode(...head.subarray(start, end))
}

const FTYP_BRANDS: { readonly [brand: string]: string } = {
  avif: 'image/avif',
  avis: 'image/avif',
  heic: 'image/heic',
  heix: 'image/heic',
  hevc: 'image/heic-sequence',
  hevx: 'image/heic-sequence',
  mif1: 'image/heif',
  msf1: 'image/heif-sequence',
  'qt  ': 'video/quicktime',
  'M4A ': 'audio/x-m4a',
  'M4B ': 'audio/mp4',
  '3gp4': 'video/3gpp',
  '3gp5': 'video/3gpp',
  '3gp6': 'video/3gpp',
  '3g2a': 'video/3gpp2',
}

function sniffIsoBmff(head: Uint8Array): string | null {
  if (ascii(head, 4, 8) !== 'ftyp') return null
  const brand = ascii(head, 8, 12)
  if (brand === '') return null
  return FTYP_BRANDS[brand] ?? 'video/mp4'
}

function sniffMatroska(head: Uint8Array): string | null {
  if (!startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return null
  const text = ascii(head, 0, Math.min(head.length, 64))
  return text.includes('webm') ? 'video/webm' : 'video/x-matroska'
}

function sniffRiff(head: Uint8Array): string | null {
  if (ascii(head, 0, 4) !== 'RIFF') return null
  const form = ascii(head, 8, 12)
  if (form === 'WEBP') return 'image/webp'
  if (form === 'WAVE') return 'audio/wav'
  if (form === 'AVI ') return 'video/vnd.avi'
  return null
}

const SIGNATURES: ReadonlyArray<readonly [readonly number[], string]> = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38, 0x37, 0x61], 'image/gif'], // GIF87a
  [[0x47, 0x49, 0x46, 0x38, 0x39, 0x61], 'image/gif'], // GIF89a
  [[0x49, 0x49, 0x2a, 0x00], 'image/tiff'],
  [[0x4d, 0x4d, 0x00, 0x2a], 'image/tiff'],
  [[0x00, 0x00, 0x01, 0x00], 'image/x-icon'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'], // %PDF-
  [[0x4f, 0x67, 0x67, 0x53], 'audio/ogg'], // OggS
  [[0x66, 0x4c, 0x61, 0x43], 'audio/x-flac'], // fLaC
  [[0x49, 0x44, 0x33], 'audio/mpeg'], // ID3
]

/** The media type a signature at the start of `head` names, or null. */
export function sniffMagic(head: Uint8Array): string | null {
  for (const [bytes, type] of SIGNATURES) if (startsWith(head, bytes)) return type
  if (startsWith(head, [0x42, 0x4d]) && head.length >= 14) return 'image/bmp'
  return sniffRiff(head) ?? sniffIsoBmff(head) ?? sniffMatroska(head)
}

const TOKEN = "[a-z0-9][a-z0-9!#$&^_.+-]*"
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`)

/** A declared type worth keeping: a concrete, lower-case `type/subtype` (no wildcards, no parameters). */
export function usableDeclaredType(declared: string | undefined): string | null {
  if (declared === undefined || declared.length > PDS_BLOB_MIME_TYPE_LENGTH_MAX) return null
  const type = declared.split(';', 1)[0]!.trim().toLowerCase()
  return MEDIA_TYPE.test(type) ? type : null
}

/** True when `head` is printable UTF-8 (a multi-byte character cut at the end is allowed). */
export function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return false
  for (const byte of head) {
    if (byte === 0x7f || (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c)) return false
  }
  let end = head.length
  // Drop an incomplete trailing sequence: at most 3 continuation bytes after a lead byte.
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const byte = head[end - back]!
    if ((byte & 0xc0) === 0x80) continue
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    if (need > back) end -= back
    break
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end))
    return true
  } catch {
    return false
  }
}

/** The type to store for a blob starting with `head` that the client declared as `declared`. */
export function chooseMimeType(head: Uint8Array, declared: string | undefined): string {
  return sniffMagic(head) ?? usableDeclaredType(declared) ?? (looksLikeText(head) ? 'text/plain' : OCTET_STREAM)
}
