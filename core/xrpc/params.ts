/**
 * XRPC query-string parameters, before any lexicon: `?a=1&cids=x&cids=y` →
 * `{ a: '1', cids: ['x', 'y'] }` (a key seen once is a string, repeated keys
 * an array; the lexicon hook decides which params may repeat).
 *
 * Bounded and safe by construction: at most XRPC_QUERY_VALUES_MAX values
 * (the URL itself is bounded by Node's header limit, 16 KiB by default);
 * the result has a null prototype, and `__proto__` is refused outright as the
 * reference does. Decoding is `URLSearchParams` (`+` is a space), like the
 * reference server.
 */
import { XRPC_QUERY_VALUES_MAX } from '../limits.ts'
import { invalidRequest } from './errors.ts'

export type RawParams = { readonly [name: string]: string | readonly string[] }

/** The query params of a request URL (`/xrpc/x.y.z?a=1`). Throws 400 `InvalidRequest`. */
export function parseQueryParams(url: string): RawParams {
  const question = url.indexOf('?')
  const out: { [name: string]: string | string[] } = Object.create(null)
  if (question < 0) return out
  const search = new URLSearchParams(url.slice(question + 1))
  let count = 0
  for (const [name, value] of search) {
    if (++count > XRPC_QUERY_VALUES_MAX) throw invalidRequest(`more than ${XRPC_QUERY_VALUES_MAX} query parameter values`)
    if (name === '__proto__') throw invalidRequest('invalid query parameter name')
    const seen = out[name]
    if (seen === undefined) out[name] = value
    else if (typeof seen === 'string') out[name] = [seen, value]
    else seen.push(value)
  }
  return out
}

/** Query-string text for a params object: arrays as repeated keys, booleans `true`/`false`, `undefined` skipped. */
export function formatQueryParams(
  params: { readonly [name: string]: string | number | boolean | readonly (string | number | boolean)[] | undefined },
): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) search.append(name, String(v))
  }
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}
