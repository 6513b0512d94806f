/**
 * Where the test vectors live: the public AT-Protocol interop vectors
 * (CC0, copied byte-for-byte into test/vectors/interop; never trim lines)
 * and the vendored lexicons at the repository root.
 */
import { fileURLToPath } from 'node:url'

export const INTEROP_DIR_URL = new URL('../vectors/interop/', import.meta.url)
export const INTEROP_DIR = fileURLToPath(INTEROP_DIR_URL)
export const LEXICONS_DIR = fileURLToPath(new URL('../../lexicons/', import.meta.url))

export function interopPath(relative: string): string {
  return fileURLToPath(new URL(relative, INTEROP_DIR_URL))
}
