/**
 * Handles: DNS names used as human-readable account names (`alice.example.com`).
 *
 * Syntax: ASCII only, at most HANDLE_LENGTH_MAX characters, two or more labels of
 * 1..HANDLE_LABEL_LENGTH_MAX characters from `a-z0-9-`, no label starting or
 * ending with `-`, and the last label (the TLD) starting with a letter. Handles
 * are case-insensitive; `parseHandle` returns the lower-case form.
 *
 * Tricky bits:
 * - Syntax validity and resolvability are separate questions. `laptop.local` and
 *   `x.onion` are syntactically valid handles (the interop vectors say so), but
 *   they must never resolve: `ensureResolvableHandle` is the second check.
 * - Characters are checked before lower-casing: `toLowerCase` maps some
 *   non-ASCII characters (the Kelvin sign U+212A) to ASCII letters.
 * - `handle.invalid` is the sentinel the network uses for "no verified handle";
 *   it is syntactically valid and not resolvable.
 */
import { AtfedError } from '../errors.ts'
import { HANDLE_LABEL_LENGTH_MAX, HANDLE_LENGTH_MAX } from '../limits.ts'

export type Handle = string & { readonly __brand: 'Handle' }

export const HANDLE_INVALID = 'handle.invalid' as Handle

/** TLDs that must never resolve (special-use and reserved names). */
export const UNRESOLVABLE_HANDLE_TLDS: readonly string[] = [
  '.alt',
  '.arpa',
  '.example',
  '.internal',
  '.invalid',
  '.local',
  '.localhost',
  '.onion',
]

const LABEL_CHARS = /^[a-zA-Z0-9-]+$/

function invalid(message: string): AtfedError<'InvalidHandle'> {
  return new AtfedError('InvalidHandle', message)
}

/** Returns the reason `s` is not a handle, or null when it is one. */
function handleProblem(s: string): string | null {
  if (s.length > HANDLE_LENGTH_MAX) return `handle longer than ${HANDLE_LENGTH_MAX} characters`
  const labels = s.split('.')
  if (labels.length < 2) return 'handle needs at least two labels'
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as string
    if (label.length === 0) return 'handle has an empty label'
    if (label.length > HANDLE_LABEL_LENGTH_MAX) {
      return `handle label longer than ${HANDLE_LABEL_LENGTH_MAX} characters`
    }
    if (!LABEL_CHARS.test(label)) return 'handle may contain only ASCII letters, digits, hyphens and dots'
    if (label.startsWith('-') || label.endsWith('-')) return 'handle label starts or ends with a hyphen'
  }
  const tld = labels[labels.length - 1] as string
  if (!/^[a-zA-Z]/.test(tld)) return 'handle TLD must start with a letter'
  return null
}

/** Parse a handle; returns it lower-cased. Throws `InvalidHandle`. */
export function parseHandle(s: string): Handle {
  if (typeof s !== 'string') throw invalid('handle must be a string')
  const problem = handleProblem(s)
  if (problem !== null) throw invalid(problem)
  return s.toLowerCase() as Handle
}

/** True when `s` is a syntactically valid handle in normalised (lower-case) form. */
export function isHandle(s: unknown): s is Handle {
  return typeof s === 'string' && handleProblem(s) === null && s === s.toLowerCase()
}

/** True when `s` is a syntactically valid handle in any letter case. */
export function isHandleSyntax(s: unknown): s is string {
  return typeof s === 'string' && handleProblem(s) === null
}

/** False for handles under a TLD that must never resolve (`.local`, `.invalid`, ...). */
export function isResolvableHandleTld(handle: string): boolean {
  const lower = handle.toLowerCase()
  return !UNRESOLVABLE_HANDLE_TLDS.some((tld) => lower.endsWith(tld))
}

/** Parse a handle and also require a resolvable TLD. Throws `InvalidHandle`. */
export function ensureResolvableHandle(s: string): Handle {
  const handle = parseHandle(s)
  if (!isResolvableHandleTld(handle)) {
    const tld = handle.slice(handle.lastIndexOf('.'))
    throw invalid(`handle TLD ${tld} is reserved and never resolves`)
  }
  return handle
}
