/**
 * A set of parsed lexicon documents with def lookup by absolute ref
 * (`nsid` for a `main` def, `nsid#name` otherwise; see ./refs.ts).
 *
 * `loadLexiconDir(dir)` reads every `*.json` under a directory tree (bounded
 * by LEXICON_DIR_FILES_MAX, LEXICON_DIR_DEPTH_MAX, LEXICON_DOC_BYTES_MAX),
 * parses each with `parseLexiconDoc`, and by default checks that every ref
 * resolves to a def of a type it may point at (a ref never at a token, a
 * union variant only at an object or record). The directory is the caller's:
 * nothing here knows where the project keeps its lexicons.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { AtfedError } from '../errors.ts'
import { LEXICON_DIR_DEPTH_MAX, LEXICON_DIR_FILES_MAX, LEXICON_DOC_BYTES_MAX } from '../limits.ts'
import type { LexField, LexiconDoc, LexMethod, LexRecord, LexUserDef } from './schema.ts'
import { parseLexiconDoc } from './parse-doc.ts'
import { absoluteRef } from './refs.ts'

export class LexiconRegistry {
  readonly #docs = new Map<string, LexiconDoc>()
  readonly #defs = new Map<string, LexUserDef>()

  /** Adds a parsed document; a second document with the same id is `InvalidLexicon`. */
  add(doc: LexiconDoc): void {
    if (this.#docs.has(doc.id)) throw new AtfedError('InvalidLexicon', `${doc.id} is already registered`)
    this.#docs.set(doc.id, doc)
    for (const [name, def] of Object.entries(doc.defs)) this.#defs.set(absoluteRef(doc.id, name), def)
  }

  get size(): number {
    return this.#docs.size
  }

  ids(): string[] {
    return [...this.#docs.keys()].sort()
  }

  getDoc(nsid: string): LexiconDoc | undefined {
    return this.#docs.get(nsid)
  }

  /** The def for an absolute ref; `nsid#main` is accepted as a spelling of `nsid`. */
  getDef(ref: string): LexUserDef | undefined {
    return this.#defs.get(ref.endsWith('#main') ? ref.slice(0, -'#main'.length) : ref)
  }

  getRecordDef(collection: string): LexRecord | undefined {
    const def = this.#defs.get(collection)
    return def?.type === 'record' ? def : undefined
  }

  /** The query, procedure or subscription served at `/xrpc/<nsid>`. */
  getMethodDef(nsid: string): LexMethod | undefined {
    const def = this.#defs.get(nsid)
    return def?.type === 'query' || def?.type === 'procedure' || def?.type === 'subscription' ? def : undefined
  }

  /** Every ref that does not resolve, or resolves to a def it may not point at: `[where, problem]`. */
  refProblems(): Array<[string, string]> {
    const problems: Array<[string, string]> = []
    const check = (where: string, ref: string, asVariant: boolean): void => {
      const target = this.#defs.get(ref)
      if (target === undefined) problems.push([where, `ref "${ref}" does not resolve`])
      else if (target.type === 'token') problems.push([where, `ref "${ref}" points at a token`])
      else if (asVariant && target.type !== 'object' && target.type !== 'record') {
        problems.push([where, `union variant "${ref}" is a ${target.type}, not an object or record`])
      }
    }
    for (const [defRef, def] of this.#defs) visitRefs(def, defRef, check)
    return problems
  }

  /** Throws `InvalidLexicon` naming the first unresolvable ref. */
  assertRefsResolve(): void {
    const first = this.refProblems()[0]
    if (first !== undefined) throw new AtfedError('InvalidLexicon', `${first[0]}: ${first[1]}`)
  }
}

type RefVisitor = (where: string, ref: string, asVariant: boolean) => void

function visitRefs(def: LexUserDef | LexField, where: string, visit: RefVisitor): void {
  switch (def.type) {
    case 'ref': return visit(where, def.ref, false)
    case 'union': return def.refs.forEach((ref) => visit(where, ref, true))
    case 'array': return visitRefs(def.items, `${where}/items`, visit)
    case 'object':
      for (const [name, prop] of Object.entries(def.properties)) visitRefs(prop, `${where}/properties/${name}`, visit)
      return
    case 'record': return visitRefs(def.record, `${where}/record`, visit)
    case 'query':
    case 'procedure':
    case 'subscription': {
      const bodies = def.type === 'subscription'
        ? { message: def.message }
        : def.type === 'query' ? { output: def.output } : { input: def.input, output: def.output }
      for (const [key, body] of Object.entries(bodies)) {
        if (body?.schema) visitRefs(body.schema, `${where}/${key}/schema`, visit)
      }
      return
    }
    default: return
  }
}

/** Loads every `*.json` lexicon under `dir` (recursively). */
export async function loadLexiconDir(dir: string, options: { checkRefs?: boolean } = {}): Promise<LexiconRegistry> {
  const files: string[] = []
  await collectJsonFiles(dir, 0, files)
  files.sort()
  const registry = new LexiconRegistry()
  for (const file of files) {
    const name = relative(dir, file)
    const size = (await stat(file)).size
    if (size > LEXICON_DOC_BYTES_MAX) {
      throw new AtfedError('InvalidLexicon', `${name}: file is larger than ${LEXICON_DOC_BYTES_MAX} bytes`)
    }
    let json: unknown
    try {
      json = JSON.parse(await readFile(file, 'utf8'))
    } catch (err) {
      throw new AtfedError('InvalidLexicon', `${name}: not JSON: ${(err as Error).message}`, { cause: err })
    }
    try {
      registry.add(parseLexiconDoc(json))
    } catch (err) {
      if (err instanceof AtfedError) throw new AtfedError(err.name, `${name}: ${err.message}`, { cause: err })
      throw err
    }
  }
  if (options.checkRefs ?? true) registry.assertRefsResolve()
  return registry
}

async function collectJsonFiles(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > LEXICON_DIR_DEPTH_MAX) {
    throw new AtfedError('InvalidLexicon', `${dir}: nested deeper than ${LEXICON_DIR_DEPTH_MAX} directories`)
  }
  const entries = await readdir(dir, { withFileTypes: true })
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) await collectJsonFiles(path, depth + 1, out)
    else if (entry.isFile() && entry.name.endsWith('.json')) {
      out.push(path)
      if (out.length > LEXICON_DIR_FILES_MAX) {
        throw new AtfedError('InvalidLexicon', `${dir}: more than ${LEXICON_DIR_FILES_MAX} lexicon files`)
      }
    }
  }
}
