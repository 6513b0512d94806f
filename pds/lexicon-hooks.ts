/**
 * The XRPC router's validation hooks, backed by the lexicon registry:
 * - params: coerced and checked against the method's lexicon (`limit=5` →
 *   5, defaults filled, 400 `InvalidRequest` naming `Params/<name>`);
 * - JSON input: converted from the atproto JSON form (`$link`, `$bytes`,
 *   blob refs) to data-model values, then checked against the lexicon, so
 *   handlers get CIDs and bytes, never their JSON spellings;
 * - JSON output (dev mode only, as the reference's PDS_DEV_MODE): checked
 *   against the lexicon; a mismatch is our bug, a 500.
 * A method with no lexicon (none of ours, but a hook must not assume it)
 * passes through unchecked. `rawJsonInput` is for methods whose input holds
 * records: it checks the envelope but leaves values as JSON, so the route
 * can report a bad record as `InvalidRecord` with the record's own path.
 */
import { AtfedError, isAtfedError } from '../core/errors.ts'
import { jsonToLex } from '../core/data/json.ts'
import type { LexiconRegistry } from '../core/lexicon/registry.ts'
import { validateInput, validateOutput, validateParams } from '../core/lexicon/validate.ts'
import type { BodyHook, ValidationHooks } from '../core/xrpc/server.ts'

function passIfNoLexicon<T>(run: () => T, fallback: T): T {
  try {
    return run()
  } catch (err) {
    if (isAtfedError(err, 'LexiconNotFound')) return fallback
    throw err
  }
}

/** JSON form → data model; a malformed value is the client's bad request. */
export function jsonBodyToLex(body: unknown): unknown {
  try {
    return jsonToLex(body)
  } catch (err) {
    if (isAtfedError(err, 'InvalidDataModel')) throw new AtfedError('InvalidRequest', err.message, { cause: err })
    throw err
  }
}

export function lexiconHooks(registry: LexiconRegistry, options: { validateOutput: boolean }): ValidationHooks {
  return {
    params: (raw, nsid) => passIfNoLexicon<unknown>(() => validateParams(registry, nsid, raw), raw),
    validateInput: (body, nsid) => {
      const lex = jsonBodyToLex(body)
      return passIfNoLexicon(() => validateInput(registry, nsid, lex), lex)
    },
    validateOutput: options.validateOutput
      ? (body, nsid) => {
          passIfNoLexicon(() => validateOutput(registry, nsid, jsonToLex(body)), body)
          return body
        }
      : null,
  }
}

/** Input hook for record-carrying methods: lexicon check on the raw JSON, values left as JSON. */
export function rawJsonInput(registry: LexiconRegistry): BodyHook {
  return (body, nsid) => passIfNoLexicon(() => validateInput(registry, nsid, body), body)
}
