/**
 * The demo image `atfed dev --seed` posts: a small PNG drawn in code (no
 * asset file), an 8-bit RGB gradient with a diagonal stripe. The encoder is
 * the least PNG can be: signature, IHDR, one IDAT (filter 0 on every row,
 * zlib from node:zlib), IEND; CRC-32 from node:zlib too.
 */
import { crc32, deflateSync } from 'node:zlib'

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)
const COLOR_TYPE_RGB = 2
const BIT_DEPTH = 8

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  out.set(data, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** A `size`×`size` PNG (default 64). */
export function demoPng(size = 64): Uint8Array {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header[8] = BIT_DEPTH
  header[9] = COLOR_TYPE_RGB // compression, filter and interlace bytes stay 0
  const rowBytes = 1 + 3 * size
  const pixels = Buffer.alloc(rowBytes * size)
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const at = y * rowBytes + 1 + 3 * x
      const stripe = Math.abs(x - y) < size / 8
      pixels[at] = stripe ? 255 : Math.floor((255 * x) / size)
      pixels[at + 1] = stripe ? 255 : Math.floor((255 * y) / size)
      pixels[at + 2] = stripe ? 255 : 160
    }
  }
  return new Uint8Array(Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(pixels)), chunk('IEND', new Uint8Array())]))
}
