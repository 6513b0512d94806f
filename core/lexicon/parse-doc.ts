/**
 * `parseLexiconDoc(json)`: a lexicon document from its JSON form, checked
 * against Lexicon v1 and returned in the normalised shape of ./schema.ts.
 * Any problem throws `InvalidLexicon` whose message starts with the failing
 * path, e.g. `example.lexicon.other#demo/record/type must be a string`.
 *
 * Document rules: `lexicon` is 1, `id` a (lower-case-authority) NSID, `defs`
 * a non-empty map. Primary types (record, query, procedure, subscription,
 * permission-set) only as `main`; `ref`, `union`, `unknown` and `params`
 * never as named defs. Unknown keys are ignored, so newer documents load.
 */
import { isNsid } from '../syntax/nsid.ts'
import type { Nsid } from '../syntax/nsid.ts'
import type { LexiconDoc, LexUserDef } from './schema.ts'
import { invalidLexicon, optCount, optString, readObject } from './parse-reader.ts'
import { parseNamedDef } from './parse-fields.ts'
import { isDefName } from './refs.ts'
import { parsePrimary } from './parse-primary.ts'

const PRIMARY_TYPES: ReadonlySet<unknown> = new Set(['record', 'query', 'procedure', 'subscription', 'permission-set'])

export function parseLexiconDoc(json: unknown): LexiconDoc {
  const root = 'Lexicon'
  const doc = readObject(json, root)
  if (doc['lexicon'] !== 1) invalidLexicon(`${root}/lexicon`, 'must be 1')
  const id = doc['id']
  if (typeof id !== 'string') invalidLexicon(`${root}/id`, 'must be a string')
  if (!isNsid(id)) invalidLexicon(`${root}/id`, `"${id.slice(0, 100)}" is not a valid NSID`)
  const revision = optCount(doc, 'revision', id)
  const description = optString(doc, 'description', id)
  const rawDefs = readObject(doc['defs'], `${id}/defs`)
  const names = Object.keys(rawDefs)
  if (names.length === 0) invalidLexicon(`${id}/defs`, 'must not be empty')
  const defs: { [name: string]: LexUserDef } = {}
  for (const name of names) defs[name] = parseDef(rawDefs[name], id, name)
  return {
    lexicon: 1,
    id: id as Nsid,
    ...(revision === undefined ? {} : { revision }),
    ...(description === undefined ? {} : { description }),
    defs,
  }
}

function parseDef(value: unknown, docId: string, name: string): LexUserDef {
  const path = `${docId}#${name}`
  if (!isDefName(name)) invalidLexicon(path, 'has an invalid def name')
  const type = readObject(value, path)['type']
  if (PRIMARY_TYPES.has(type)) {
    if (name !== 'main') invalidLexicon(`${path}/type`, `a ${String(type)} def must be named "main"`)
    return parsePrimary(value, path, { docId })
  }
  return parseNamedDef(value, path, { docId })
}
