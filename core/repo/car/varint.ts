/**
 * Unsigned LEB128 varints as CAR v1 uses them (multiformats unsigned-varint):
 * seven bits per byte, low bits first, high bit set on every byte but the last.
 *
 * Decoding is strict and bounded: at most CAR_VARINT_BYTES_MAX bytes, minimal
 * encoding only (a final 0x00 byte after a continuation is rejected), and the
 * value is checked against the caller's `max` so a huge length is refused
 * before anything is allocated for it. Running off the end of the bytes is
 * 'TruncatedCar'; anything else malformed is 'InvalidCar'.
 */
import { AtfedError } from '../../errors.ts'
import { CAR_VARINT_BYTES_MAX } from '../../limits.ts'

export type DecodedVarint = { value: number; length: number }

/** Bytes needed to encode `value` (a non-negative safe integer). */
export function varintLength(value: number): number {
  let length = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    length++
  }
  return length
}

/** Writes `value` into `target` at `offset`; returns the offset after it. */
export function writeVarint(target: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value % 128) | 0x80
    value = Math.floor(value / 128)
  }
  target[offset++] = value
  return offset
}

/**
 * Reads one varint at `offset`. `max` is the largest acceptable value; above
 * it, `onTooLarge` names the error ('BlockTooLarge' for a section length,
 * 'InvalidCar' for the header length).
 */
export function decodeVarint(
  bytes: Uint8Array,
  offset: number,
  options: { max: number; onTooLarge: 'BlockTooLarge' | 'InvalidCar' },
): DecodedVarint {
  let value = 0
  let scale = 1
  for (let i = 0; i < CAR_VARINT_BYTES_MAX; i++) {
    const byte = bytes[offset + i]
    if (byte === undefined) throw new AtfedError('TruncatedCar', 'CAR ends inside a varint')
    value += (byte & 0x7f) * scale
    if (value > options.max) {
      throw new AtfedError(options.onTooLarge, `CAR length ${value}+ is over the limit of ${options.max}`)
    }
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new AtfedError('InvalidCar', 'CAR varint is not minimally encoded')
      return { value, length: i + 1 }
    }
    scale *= 128
  }
  throw new AtfedError('InvalidCar', `CAR varint is longer than ${CAR_VARINT_BYTES_MAX} bytes`)
}
