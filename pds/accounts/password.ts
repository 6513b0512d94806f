/**
 * Account passwords: scrypt (node:crypto, Node's default cost N=16384, r=8,
 * p=1) with a fresh random salt per hash, stored as `<salt hex>:<key hex>`.
 * As in the reference PDS, the salt given to scrypt is the hex TEXT (not the
 * raw bytes), so a hash moved between the implementations still verifies. Comparison is constant-time. Length rules: a new password is at
 * most PDS_PASSWORD_LENGTH_MAX characters (400 `InvalidPassword` beyond);
 * login tolerates up to PDS_LOGIN_PASSWORD_LENGTH_MAX and treats anything
 * longer as wrong, without hashing it.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { AtfedError } from '../../core/errors.ts'
import {
  PDS_LOGIN_PASSWORD_LENGTH_MAX,
  PDS_PASSWORD_LENGTH_MAX,
  PDS_SCRYPT_KEY_BYTES,
  PDS_SCRYPT_SALT_BYTES,
} from '../../core/limits.ts'

function derive(password: string, saltHex: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, saltHex, PDS_SCRYPT_KEY_BYTES, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** Checks a new password's shape; throws `InvalidPassword`. */
export function checkNewPassword(password: unknown): string {
  if (typeof password !== 'string' || password.length === 0) throw new AtfedError('InvalidPassword', 'a password is required')
  if (password.length > PDS_PASSWORD_LENGTH_MAX) {
    throw new AtfedError('InvalidPassword', `password is longer than ${PDS_PASSWORD_LENGTH_MAX} characters`)
  }
  return password
}

export async function hashPassword(password: string): Promise<string> {
  const saltHex = randomBytes(PDS_SCRYPT_SALT_BYTES).toString('hex')
  const key = await derive(password, saltHex)
  return `${saltHex}:${key.toString('hex')}`
}

/** True when `password` matches `stored`; false for any malformed input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (password.length === 0 || password.length > PDS_LOGIN_PASSWORD_LENGTH_MAX) return false
  const [saltHex, keyHex] = stored.split(':')
  if (saltHex === undefined || keyHex === undefined || !/^[0-9a-f]+$/.test(saltHex) || !/^[0-9a-f]+$/.test(keyHex)) return false
  const expected = Buffer.from(keyHex, 'hex')
  if (expected.length !== PDS_SCRYPT_KEY_BYTES) return false
  const actual = await derive(password, saltHex)
  return timingSafeEqual(actual, expected)
}
