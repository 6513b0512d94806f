/**
 * Generic URIs: the lexicon `uri` string format (RFC 3986 scheme, loose rest).
 *
 * A URI here is `scheme:rest` where the scheme follows RFC 3986 (a letter, then
 * letters, digits, `+`, `-`, `.`: so `content-type:` and
 * `microsoft.windows.camera:` pass) and the rest is non-empty, contains no
 * whitespace or control characters, and does not start with `/` once an
 * optional `//` is removed (`http:` and `http:///x` fail). At most
 * URI_BYTES_MAX bytes of UTF-8.
 *
 * Deliberately loose past the scheme: records on the network carry URIs with
 * unescaped non-ASCII characters and odd paths, and rejecting them would make
 * us stricter than the reference implementation. Callers that fetch a URI must
 * parse it properly (`new URL`) and check its scheme themselves.
 */
import { Buffer } from 'node:buffer'
import { AtfedError } from '../errors.ts'
import { URI_BYTES_MAX } from '../limits.ts'

export type Uri = string & { readonly __brand: 'Uri' }

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/
const BAD_CHARS = /[\s\u0000-\u001f\u007f]/

function uriProblem(s: string): string | null {
  if (s.length > URI_BYTES_MAX || Buffer.byteLength(s, 'utf8') > URI_BYTES_MAX) {
    return `URI longer than ${URI_BYTES_MAX} bytes`
  }
  const scheme = SCHEME.exec(s)
  if (scheme === null) return 'URI must start with a scheme (a letter, then letters, digits, +-.) and ":"'
  if (BAD_CHARS.test(s)) return 'URI must not contain whitespace or control characters'
  let rest = s.slice(scheme[0].length)
  if (rest.startsWith('//')) rest = rest.slice(2)
  if (rest.length === 0) return 'URI has nothing after the scheme'
  if (rest.startsWith('/')) return 'URI has an empty authority followed by "/"'
  return null
}

/** Check a URI (returned unchanged). Throws `InvalidUri`. */
export function parseUri(s: string): Uri {
  if (typeof s !== 'string') throw new AtfedError('InvalidUri', 'URI must be a string')
  const problem = uriProblem(s)
  if (problem !== null) throw new AtfedError('InvalidUri', problem)
  return s as Uri
}

export function isUri(s: unknown): s is Uri {
  return typeof s === 'string' && uriProblem(s) === null
}
