/**
 * MST keys: validity, height ("layer") and prefix compression.
 *
 * A key is a repo path `<collection>/<rkey>`: exactly one `/`, both sides
 * non-empty, characters `A-Za-z0-9 . - _ ~ :` (the reference TS MST allows
 * `:`), at most MST_KEY_BYTES_MAX bytes. Valid keys are ASCII, so one JS char
 * is one byte and `<` on strings is bytewise order.
 *
 * Height = leading zero bits of SHA-256(key) / 2, rounded down (fanout ~4).
 */
import { hash } from 'node:crypto'
import { AtfedError } from '../../errors.ts'
import { MST_KEY_BYTES_MAX } from '../../limits.ts'

const SLASH = 0x2f

/** KEY_CHARS[c] = 1 for every byte allowed in a key segment. */
export const KEY_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(256)
  const allowed = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~:'
  for (let i = 0; i < allowed.length; i++) table[allowed.charCodeAt(i)] = 1
  return table
})()

export function isValidMstKey(key: string): boolean {
  const length = key.length
  if (length > MST_KEY_BYTES_MAX) return false
  let slash = -1
  for (let i = 0; i < length; i++) {
    const c = key.charCodeAt(i)
    if (c === SLASH) {
      if (slash !== -1) return false
      slash = i
    } else if (c > 0xff || KEY_CHARS[c] !== 1) {
      return false
    }
  }
  return slash > 0 && slash < length - 1
}

/** Returns `key` or throws 'InvalidMstKey'. */
export function ensureValidMstKey(key: string): string {
  if (typeof key !== 'string' || !isValidMstKey(key)) {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 80)) : typeof key
    throw new AtfedError('InvalidMstKey', `not a valid MST key: ${shown}`)
  }
  return key
}

/** MST height of a key: leading zero bits of sha256(UTF-8 key), halved. */
export function keyHeight(key: string | Uint8Array): number {
  const digest = hash('sha256', key, 'buffer')
  let zeroBits = 0
  for (let i = 0; i < digest.length; i++) {
    const byte = digest[i]!
    if (byte !== 0) {
      zeroBits += Math.clz32(byte) - 24
      break
    }
    zeroBits += 8
  }
  return zeroBits >>> 1
}

/** Length of the common prefix of two keys, in chars (= bytes for valid keys). */
export function commonPrefixLength(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  let i = 0
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}
