/**
 * The least PNG encoder there is, shared by the demo image of `atfed dev
 * --seed`, the soak plot and the blob tests: 8-bit RGB, signature, IHDR, one
 * IDAT (filter 0 on every row, deflated by node:zlib), IEND; CRC-32 from
 * node:zlib too.
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

/** Encode `rgb` (width × height × 3 bytes, row-major) as a PNG file. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = BIT_DEPTH
  header[9] = COLOR_TYPE_RGB // compression, filter and interlace bytes stay 0
  const rowBytes = 1 + 3 * width
  const raw = Buffer.alloc(height * rowBytes) // each row: filter byte 0, then its pixels
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * rowBytes + 1)
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())])
}
