/**
 * The user-held recovery (PLC rotation) key file.
 *
 * Format: UTF-8 text, `#` comment lines (what the key is for, its public
 * did:key), then ONE line with the private key as a private multikey
 * (core/crypto/keypair.ts `exportPrivateMultikey`: `z…`, curve recorded in
 * its multicodec). Blank lines and comments are ignored on read.
 *
 * Writing: created with O_EXCL and mode 0600 (never overwrites: `KeyFileExists`),
 * written, fsynced, closed, and the directory fsynced, so a key that a PLC
 * operation is about to name is on disk first.
 *
 * Reading: at most RECOVERY_KEY_FILE_BYTES_MAX bytes; errors are
 * `KeyFileNotFound` / `InvalidKeyFile` and NEVER quote the file's content
 * (the message names the path and the problem only). A file readable by
 * group or others is reported (`looseMode`), as ssh does, so the caller can
 * warn.
 */
import { closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { exportPrivateMultikey, importPrivateMultikey, type Keypair } from '../../core/crypto/keypair.ts'
import { RECOVERY_KEY_FILE_BYTES_MAX } from '../../core/limits.ts'
import type { Did } from '../../core/syntax/did.ts'

export const RECOVERY_KEY_WARNING =
  'WARNING: this file holds a rotation key of your identity. Whoever holds it controls the DID: ' +
  'keep it offline and private, and never paste it anywhere.'

/**
 * `./<did with ':' as '_'>.recovery-key`, e.g. `./did_plc_abc….recovery-key`:
 * a colon in a file name reads as a host to scp/rsync and is not allowed on
 * Windows, and this file is meant to be copied somewhere safe.
 */
export function defaultKeyFilePath(did: Did): string {
  return resolve(`${did.replace(/:/g, '_')}.recovery-key`)
}

function fsyncDir(path: string): void {
  const fd = openSync(dirname(path), 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Create `path` (0600, exclusive) holding `keypair`; `KeyFileExists` if anything is there. */
export function writeRecoveryKeyFile(path: string, keypair: Keypair, options: { did: Did }): void {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AtfedError('KeyFileExists', `${path} already exists; refusing to overwrite it`)
    throw new AtfedError('KeyFileUnwritable', `cannot create ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    const text =
      `# atfed recovery key (PLC rotation key) for ${options.did}\n` +
      `# public key: ${keypair.publicKey.didKey}\n` +
      `# ${RECOVERY_KEY_WARNING}\n` +
      `${exportPrivateMultikey(keypair)}\n`
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  fsyncDir(path)
}

export type LoadedKey = { keypair: Keypair; looseMode: boolean }

function invalid(path: string, problem: string): AtfedError<'InvalidKeyFile'> {
  return new AtfedError('InvalidKeyFile', `${path} is not an atfed recovery-key file: ${problem}`)
}

function readCapped(path: string): { text: string; mode: number } {
  let stat
  try {
    stat = statSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new AtfedError('KeyFileNotFound', `no recovery-key file at ${path}`)
    throw new AtfedError('InvalidKeyFile', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`)
  }
  if (!stat.isFile()) throw invalid(path, 'not a regular file')
  if (stat.size > RECOVERY_KEY_FILE_BYTES_MAX) throw invalid(path, `larger than ${RECOVERY_KEY_FILE_BYTES_MAX} bytes`)
  return { text: readFileSync(path, 'utf8'), mode: stat.mode }
}

/** The key in `path` (see the module header); never echoes the content. */
export function readRecoveryKeyFile(path: string): LoadedKey {
  const { text, mode } = readCapped(path)
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
  if (lines.length !== 1) throw invalid(path, `expected one key line, found ${lines.length}`)
  try {
    return { keypair: importPrivateMultikey(lines[0]!), looseMode: (mode & 0o077) !== 0 }
  } catch (err) {
    if (isAtfedError(err, 'InvalidPrivateKey')) throw invalid(path, 'the key line is not a private multikey')
    throw err
  }
}
