/**
 * Labeling rules, from a JSON file (`--rules FILE`):
 *
 *   { "rules": [
 *       { "id": "crypto-spam", "kind": "text", "pattern": "free\\s+crypto", "flags": "i", "val": "spam" },
 *       { "id": "known-bots", "kind": "account", "dids": ["did:plc:…"], "val": "bot" } ] }
 *
 * - `text`: a regex over the `text` of every `app.bsky.feed.post` created or
 *   updated in the firehose (only the first LABELER_RULE_TEXT_CHARS_MAX
 *   UTF-16 units are looked at). A match labels the RECORD: `uri` = the
 *   post's at-uri, `cid` = its version. Patterns are at most
 *   LABELER_RULE_PATTERN_LENGTH_MAX characters, flags a subset of `imsu`
 *   (no `g`/`y`: they make `test` stateful); they are compiled here once (a
 *   syntax error is `InvalidRules`) and run in the matcher worker with a
 *   deadline (text-matcher.ts), never on the main thread.
 * - `account`: a DID list; any event of a listed account labels the
 *   ACCOUNT: `uri` = the DID, no cid.
 * - `id` (optional, ≤ 64 chars) names the rule in logs and stats.
 *
 * An optional top-level `"definitions": { "<val>": {severity, blurs,
 * defaultSetting, adultOnly, name, description} }` is read only by
 * `atfed labeler publish` (publish.ts); the labeler itself ignores it.
 *
 * `val` is checked like every label value (label.ts). Any problem is
 * `InvalidRules` with the JSON path in the message and the original error as
 * `cause` (e.g. `rules[2].val: InvalidLabelValue: …`).
 */
import { readFileSync, statSync } from 'node:fs'
import { AtfedError, isAtfedError } from '../../core/errors.ts'
import { LABELER_RULE_ACCOUNTS_MAX, LABELER_RULE_PATTERN_LENGTH_MAX, LABELER_RULES_FILE_BYTES_MAX, LABELER_RULES_MAX } from '../../core/limits.ts'
import { parseDid } from '../../core/syntax/did.ts'
import type { Did } from '../../core/syntax/did.ts'
import { parseLabelValue } from './label.ts'
import type { LabelValue } from './label.ts'

export type TextRule = { readonly kind: 'text'; readonly id: string; readonly pattern: string; readonly flags: string; readonly val: LabelValue }
export type AccountRule = { readonly kind: 'account'; readonly id: string; readonly dids: readonly Did[]; readonly val: LabelValue }
export type Rule = TextRule | AccountRule

export type Rules = {
  readonly text: readonly TextRule[]
  /** DID → the label values its account rules give it. */
  readonly accounts: ReadonlyMap<Did, readonly LabelValue[]>
}

export const NO_RULES: Rules = { text: [], accounts: new Map() }

function invalid(path: string, message: string, cause?: unknown): AtfedError<'InvalidRules'> {
  return new AtfedError('InvalidRules', `${path}: ${message}`, cause === undefined ? undefined : { cause })
}

function isObject(v: unknown): v is { readonly [key: string]: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checked<T>(path: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (!isAtfedError(err)) throw err
    throw invalid(path, `${err.name}: ${err.message}`, err)
  }
}

function parseTextRule(raw: { readonly [key: string]: unknown }, path: string, id: string, val: LabelValue): TextRule {
  const { pattern, flags = '' } = raw
  if (typeof pattern !== 'string' || pattern.length === 0) throw invalid(`${path}.pattern`, 'a non-empty regex source is required')
  if (pattern.length > LABELER_RULE_PATTERN_LENGTH_MAX) throw invalid(`${path}.pattern`, `longer than ${LABELER_RULE_PATTERN_LENGTH_MAX} characters`)
  if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags) || new Set(flags).size !== flags.length) {
    throw invalid(`${path}.flags`, 'flags must be distinct letters among i, m, s, u')
  }
  try {
    new RegExp(pattern, flags)
  } catch (err) {
    throw invalid(`${path}.pattern`, `not a valid regex: ${(err as Error).message}`, err)
  }
  return { kind: 'text', id, pattern, flags, val }
}

function parseRule(raw: unknown, path: string): Rule {
  if (!isObject(raw)) throw invalid(path, 'a rule must be an object')
  for (const key of Object.keys(raw)) {
    if (!['id', 'kind', 'val', 'pattern', 'flags', 'dids'].includes(key)) throw invalid(path, `unknown field ${JSON.stringify(key.slice(0, 64))}`)
  }
  const id = raw.id ?? path
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw invalid(`${path}.id`, 'id must be 1..64 characters')
  const val = checked(`${path}.val`, () => parseLabelValue(raw.val))
  switch (raw.kind) {
    case 'text':
      return parseTextRule(raw, path, id, val)
    case 'account': {
      if (!Array.isArray(raw.dids) || raw.dids.length === 0) throw invalid(`${path}.dids`, 'a non-empty array of DIDs is required')
      const dids = raw.dids.map((d: unknown, i) => checked(`${path}.dids[${i}]`, () => parseDid(d as string)))
      return { kind: 'account', id, dids, val }
    }
    default:
      throw invalid(`${path}.kind`, 'kind must be "text" or "account"')
  }
}

/** Check a parsed rules document. Throws `InvalidRules`. */
export function parseRules(json: unknown): Rules {
  if (!isObject(json) || !Array.isArray(json.rules)) throw invalid('$', 'expected {"rules": [...]}')
  if (json.rules.length > LABELER_RULES_MAX) throw invalid('rules', `more than ${LABELER_RULES_MAX} rules`)
  const rules = json.rules.map((raw: unknown, i) => parseRule(raw, `rules[${i}]`))
  const text = rules.filter((r): r is TextRule => r.kind === 'text')
  const accounts = new Map<Did, LabelValue[]>()
  let total = 0
  for (const rule of rules) {
    if (rule.kind !== 'account') continue
    total += rule.dids.length
    if (total > LABELER_RULE_ACCOUNTS_MAX) throw invalid('rules', `more than ${LABELER_RULE_ACCOUNTS_MAX} DIDs in account rules`)
    for (const did of rule.dids) {
      const vals = accounts.get(did) ?? []
      if (!vals.includes(rule.val)) vals.push(rule.val)
      accounts.set(did, vals)
    }
  }
  return { text, accounts }
}

/** Read and check a rules file (size-capped before reading). Throws `InvalidRules`. */
export function loadRulesFile(path: string): Rules {
  let text: string
  try {
    if (statSync(path).size > LABELER_RULES_FILE_BYTES_MAX) throw invalid(path, `larger than ${LABELER_RULES_FILE_BYTES_MAX} bytes`)
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (isAtfedError(err)) throw err
    throw invalid(path, `cannot read: ${(err as Error).message}`, err)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw invalid(path, `not JSON: ${(err as Error).message}`, err)
  }
  return parseRules(json)
}
