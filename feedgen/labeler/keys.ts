/**
 * The labeler's keys, as small files in its data directory:
 * - `label-signing-key.k256`: signs every label (the DID document's
 *   `#atproto_label`). Losing it means re-publishing a new key and
 *   re-signing old labels; it is never regenerated over an existing file.
 * - `plc-rotation-key.k256`: controls the labeler's did:plc (plc mode only).
 *
 * Each is 64 hex chars (a secp256k1 scalar, as Ozone's
 * OZONE_SIGNING_KEY_HEX), created on first start with an exclusive create
 * and mode 0600 in a 0700 directory. An existing file that does not parse,
 * or that is readable by group or others, is `InvalidConfig` — never
 * silently replaced or used.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AtfedError } from '../../core/errors.ts'
import { formatPrivateKeyHex, generateKeypair, keypairFromPrivateKey, parsePrivateKeyHex } from '../../core/crypto/keypair.ts'
import type { Keypair } from '../../core/crypto/keypair.ts'

export const SIGNING_KEY_FILE = 'label-signing-key.k256'
export const ROTATION_KEY_FILE = 'plc-rotation-key.k256'

function readExisting(path: string): string | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  if ((statSync(path).mode & 0o077) !== 0) {
    throw new AtfedError('InvalidConfig', `${path} is readable by other users: chmod 600 it`)
  }
  return text.trim()
}

/** The k256 keypair in `<dataDir>/<file>`, created (0600) on first use. */
export function loadKeyFile(dataDir: string, file: string): Keypair {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, file)
  let hex = readExisting(path)
  if (hex === null) {
    const created = formatPrivateKeyHex(generateKeypair('k256').exportPrivateKey())
    try {
      writeFileSync(path, `${created}\n`, { mode: 0o600, flag: 'wx' })
      chmodSync(path, 0o600)
      hex = created
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      hex = readExisting(path) ?? ''
    }
  }
  try {
    return keypairFromPrivateKey('k256', parsePrivateKeyHex(hex))
  } catch (err) {
    throw new AtfedError('InvalidConfig', `${path} does not hold a k256 private key in hex`, { cause: err })
  }
}
