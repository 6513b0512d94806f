/**
 * The server's own secrets, kept as small files in the data directory:
 * - `plc-rotation-key.k256`: the PLC rotation key of every account this PDS
 *   creates (64 hex chars). Losing it loses PLC control of those accounts
 *   unless they hold a recovery key; it is never regenerated over an
 *   existing file.
 * - `jwt-secret`: the HMAC key of session tokens, unless the operator sets
 *   ATFED_PDS_JWT_SECRET. Changing it logs everyone out.
 *
 * Files are created with mode 0600 (exclusive create, so two processes
 * racing on a fresh directory cannot both write one) and the directory with
 * 0700. A file that exists but does not parse is an error, never replaced.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError } from '../core/errors.ts'
import { formatPrivateKeyHex, generateKeypair, keypairFromPrivateKey, parsePrivateKeyHex, type Keypair } from '../core/crypto/keypair.ts'

export const ROTATION_KEY_FILE = 'plc-rotation-key.k256'
export const JWT_SECRET_FILE = 'jwt-secret'

/** Creates the data directory (0700) if needed. */
export function ensureDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
}

function readOrCreate(path: string, create: () => string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const text = create()
  try {
    writeFileSync(path, `${text}\n`, { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim()
    throw err
  }
  chmodSync(path, 0o600)
  return text
}

/** The server's PLC rotation keypair (k256), created on first start. */
export function loadRotationKey(dataDir: string): Keypair {
  const path = join(dataDir, ROTATION_KEY_FILE)
  const hex = readOrCreate(path, () => formatPrivateKeyHex(generateKeypair('k256').exportPrivateKey()))
  try {
    return keypairFromPrivateKey('k256', parsePrivateKeyHex(hex))
  } catch (err) {
    throw new AtfedError('InvalidConfig', `${path} does not hold a k256 private key in hex`, { cause: err })
  }
}

/** The session-token secret: the configured one, or one generated once and kept in the data directory. */
export function loadJwtSecret(dataDir: string, configured: string | null): string {
  if (configured !== null) return configured
  return readOrCreate(join(dataDir, JWT_SECRET_FILE), () => randomBytes(32).toString('hex'))
}
