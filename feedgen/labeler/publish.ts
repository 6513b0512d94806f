/**
 * Declaring the labeler to the network: the `app.bsky.labeler.service`
 * record (rkey `self`) in the owner account's repo, written with the
 * owner's login (publish-record.ts), as `atfed feedgen publish` does for a
 * feed. Clients read it to learn which values the labeler emits and how to
 * show them; they find it at `at://<account DID>/app.bsky.labeler.service/self`,
 * so the account should be the labeler's own DID (the `src` of its labels).
 *
 * `policies.labelValues` is every value the rules give (in rule order),
 * then the extra `values` (for manual labels), without repeats.
 * `policies.labelValueDefinitions` defines each of them that is not a
 * global value (the `!` values and the lexicon's known values such as
 * `porn` or `bot`, which clients already know): identifier, severity,
 * blurs, defaultSetting, adultOnly and English name and description, from
 * the `definitions` given for it, else defaults (inform, no blur, warn,
 * the value as name). The lexicon allows only `[a-z-]+` up to 100
 * characters as a defined identifier, so a custom value with a digit, or a
 * longer one, is `InvalidArgument` here rather than a record the AppView
 * ignores.
 *
 * Checked before any request (`InvalidArgument`): severity, blurs and
 * defaultSetting among the lexicon's known values, name ≤ 64 graphemes /
 * 640 bytes, description ≤ 10,000 graphemes / 100,000 bytes, a definition
 * for a value that is not published, at least one value.
 */
import { checkText, bad } from '../publish.ts'
import { putRecordAs } from '../publish-record.ts'
import type { Rules } from './rules.ts'
import { GLOBAL_LABEL_VALUES, parseLabelValue } from './label.ts'

export const LABELER_SERVICE_COLLECTION = 'app.bsky.labeler.service'
/** Values every client knows (com.atproto.label.defs#labelValue knownValues): listed, never defined. */
const KNOWN_VALUES = new Set(['!hide', '!warn', '!no-unauthenticated', 'porn', 'sexual', 'nudity', 'graphic-media', 'bot', ...GLOBAL_LABEL_VALUES])
const IDENTIFIER = /^[a-z-]{1,100}$/
const SEVERITIES = ['inform', 'alert', 'none']
const BLURS = ['content', 'media', 'none']
const SETTINGS = ['ignore', 'warn', 'hide']

export type LabelDefinitionInput = {
  severity?: string
  blurs?: string
  defaultSetting?: string
  adultOnly?: boolean
  name?: string
  description?: string
}

export type LabelValueDefinition = {
  identifier: string
  severity: string
  blurs: string
  defaultSetting: string
  adultOnly: boolean
  locales: Array<{ lang: string; name: string; description: string }>
}

export type LabelerServiceRecord = {
  $type: typeof LABELER_SERVICE_COLLECTION
  policies: { labelValues: string[]; labelValueDefinitions: LabelValueDefinition[] }
  createdAt: string
}

export type LabelerRecordInput = {
  rules: Rules
  /** Values emitted by hand, beyond the rules'. */
  values?: readonly string[]
  definitions?: { readonly [value: string]: LabelDefinitionInput }
  now?: () => Date
}

function oneOf(field: string, value: string | undefined, known: readonly string[], fallback: string): string {
  if (value === undefined) return fallback
  if (!known.includes(value)) throw bad(`${field} must be one of ${known.join(', ')}`)
  return value
}

function definitionFor(value: string, input: LabelDefinitionInput, ruleIds: readonly string[]): LabelValueDefinition {
  if (!IDENTIFIER.test(value)) throw bad(`label value ${value} cannot be defined: the lexicon allows only a-z and "-", up to 100 characters`)
  const name = input.name ?? value
  const description = input.description ?? (ruleIds.length > 0 ? `Applied by the rules ${ruleIds.join(', ')}.` : 'Applied by the moderators of this labeler.')
  checkText(`${value}: name`, name, 64, 640)
  checkText(`${value}: description`, description, 10_000, 100_000)
  if (input.adultOnly !== undefined && typeof input.adultOnly !== 'boolean') throw bad(`${value}: adultOnly must be true or false`)
  return {
    identifier: value,
    severity: oneOf(`${value}: severity`, input.severity, SEVERITIES, 'inform'),
    blurs: oneOf(`${value}: blurs`, input.blurs, BLURS, 'none'),
    defaultSetting: oneOf(`${value}: defaultSetting`, input.defaultSetting, SETTINGS, 'warn'),
    adultOnly: input.adultOnly ?? false,
    locales: [{ lang: 'en', name, description }],
  }
}

/** The record for these rules and values. Throws `InvalidArgument`. */
export function labelerServiceRecord(input: LabelerRecordInput): LabelerServiceRecord {
  const ruleIds = new Map<string, string[]>()
  const addRule = (val: string, id: string): void => void ruleIds.set(val, [...(ruleIds.get(val) ?? []), id])
  for (const rule of input.rules.text) addRule(rule.val, rule.id)
  for (const vals of input.rules.accounts.values()) for (const val of vals) if (!ruleIds.has(val)) ruleIds.set(val, [])
  const values = [...ruleIds.keys()]
  for (const extra of input.values ?? []) {
    const val = (() => {
      try {
        return parseLabelValue(extra)
      } catch (err) {
        throw bad(`--value ${extra}: ${(err as Error).message}`)
      }
    })()
    if (!values.includes(val)) values.push(val)
  }
  if (values.length === 0) throw bad('no label values: give rules with values, or --value')
  const definitions = input.definitions ?? {}
  for (const value of Object.keys(definitions)) if (!values.includes(value)) throw bad(`a definition for ${value}, which is not published`)
  const custom = values.filter((v) => !KNOWN_VALUES.has(v))
  return {
    $type: LABELER_SERVICE_COLLECTION,
    policies: { labelValues: values, labelValueDefinitions: custom.map((v) => definitionFor(v, definitions[v] ?? {}, ruleIds.get(v) ?? [])) },
    createdAt: (input.now?.() ?? new Date()).toISOString(),
  }
}

export type PublishLabelerOptions = LabelerRecordInput & { pds: string; identifier: string; password: string }

/** Build the record (checked first), then write it as the owner. */
export async function publishLabelerService(opts: PublishLabelerOptions): Promise<{ uri: string; cid: string; did: string; record: LabelerServiceRecord; validationStatus: string | null }> {
  const record = labelerServiceRecord(opts)
  const put = await putRecordAs({ pds: opts.pds, identifier: opts.identifier, password: opts.password, collection: LABELER_SERVICE_COLLECTION, rkey: 'self', record })
  return { ...put, record }
}
