/**
 * Mutations, AFL/libFuzzer style: each mutant is a corpus entry with 1-8
 * stacked edits ("havoc"). Generic edits: bit flip, byte set to a random or
 * "interesting" value (0, 0x7f, 0x80, 0xff, CBOR head boundaries 23/24/...),
 * small add/subtract, 16/32-bit interesting values in either byte order,
 * insert random bytes, delete / duplicate / copy a chunk, splice with another
 * corpus entry, insert or overwrite a dictionary token (the target's own
 * keys and literals).
 *
 * Structure-aware where cheap: for CBOR targets, a scan of the CBOR heads in
 * the input (no validation, it only needs to find where items start) lets us
 * change one head's major type, its argument (length or value, +-1 or a
 * boundary), widen it to a non-shortest form, or make it indefinite, which
 * byte-level edits reach only by luck.
 *
 * For JSON targets (DID documents, records), a JSON-aware edit parses the
 * text, changes one value somewhere in the tree (another type, a boundary
 * number, a long or odd string, a copy of another node, deep nesting, a
 * deleted or duplicated member) and prints it again, so mutants stay JSON
 * and reach past the parser into the schema checks.
 *
 * Mutants never exceed `maxBytes` (extra bytes are cut off).
 */
import type { Rng } from './rng.ts'

export type MutationContext = {
  rng: Rng
  maxBytes: number
  /** Another corpus entry, for splicing. */
  other: () => Uint8Array
  dictionary: readonly Uint8Array[]
  cbor: boolean
  /** Also apply the JSON-aware edits (inputs that are JSON text). */
  json?: boolean
  /** The target's own structure-aware edit, if it has one. */
  custom?: (input: Uint8Array, rng: Rng) => Uint8Array
}

const INTERESTING_8 = [0, 1, 0x10, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x20, 0x3f, 0x40, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xd8, 0xf4, 0xf6, 0xf7, 0xff]
const INTERESTING_16 = [0, 0x80, 0xff, 0x100, 0x3ff, 0x400, 0x7fff, 0x8000, 0xffff]
const INTERESTING_32 = [0, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 0x4c4b40, 0x1000000]

type Edit = (data: Uint8Array, ctx: MutationContext) => Uint8Array

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = rng.below(256)
  return out
}

/** A chunk length biased to small values. */
function chunkLength(rng: Rng, max: number): number {
  if (max <= 1) return max
  return 1 + rng.below(rng.oneIn(4) ? max : Math.min(max, 8))
}

const flipBit: Edit = (d, { rng }) => {
  if (d.length === 0) return d
  const i = rng.below(d.length)
  d[i] = d[i]! ^ (1 << rng.below(8))
  return d
}

const setByte: Edit = (d, { rng }) => {
  if (d.length === 0) return d
  d[rng.below(d.length)] = rng.oneIn(2) ? rng.pick(INTERESTING_8) : rng.below(256)
  return d
}

const addByte: Edit = (d, { rng }) => {
  if (d.length === 0) return d
  const i = rng.below(d.length)
  d[i] = (d[i]! + 1 + rng.below(35) * (rng.oneIn(2) ? 1 : -1) + 256) & 0xff
  return d
}

const setWord: Edit = (d, { rng }) => {
  const wide = rng.oneIn(2)
  const size = wide ? 4 : 2
  if (d.length < size) return d
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength)
  const at = rng.below(d.length - size + 1)
  const little = rng.oneIn(2)
  if (wide) view.setUint32(at, rng.pick(INTERESTING_32), little)
  else view.setUint16(at, rng.pick(INTERESTING_16), little)
  return d
}

const insertBytes: Edit = (d, { rng }) => {
  const at = rng.below(d.length + 1)
  const n = chunkLength(rng, 32)
  const fill = rng.oneIn(2) ? randomBytes(rng, n) : new Uint8Array(n).fill(rng.below(256))
  return concat(d.subarray(0, at), fill, d.subarray(at))
}

const deleteChunk: Edit = (d, { rng }) => {
  if (d.length < 2) return d
  const n = chunkLength(rng, d.length - 1)
  const at = rng.below(d.length - n + 1)
  return concat(d.subarray(0, at), d.subarray(at + n))
}

const duplicateChunk: Edit = (d, { rng }) => {
  if (d.length === 0) return d
  const n = chunkLength(rng, d.length)
  const from = rng.below(d.length - n + 1)
  const at = rng.below(d.length + 1)
  return concat(d.subarray(0, at), d.slice(from, from + n), d.subarray(at))
}

const copyChunk: Edit = (d, { rng }) => {
  if (d.length < 2) return d
  const n = chunkLength(rng, d.length - 1)
  const from = rng.below(d.length - n + 1)
  const to = rng.below(d.length - n + 1)
  d.copyWithin(to, from, from + n)
  return d
}

const splice: Edit = (d, { rng, other }) => {
  const o = other()
  const cut = rng.below(d.length + 1)
  const from = rng.below(o.length + 1)
  return rng.oneIn(2) ? concat(d.subarray(0, cut), o.subarray(from)) : concat(d.subarray(0, cut), o.subarray(from, from + chunkLength(rng, o.length - from)), d.subarray(cut))
}

const dictionaryToken: Edit = (d, { rng, dictionary }) => {
  if (dictionary.length === 0) return d
  const token = rng.pick(dictionary)
  const at = rng.below(d.length + 1)
  if (rng.oneIn(2) || at + token.length > d.length) return concat(d.subarray(0, at), token, d.subarray(at))
  d.set(token, at)
  return d
}

/** Offsets of CBOR heads, found by walking items without checking them. */
export function cborHeads(d: Uint8Array, max = 256): number[] {
  const heads: number[] = []
  let p = 0
  while (p < d.length && heads.length < max) {
    heads.push(p)
    const major = d[p]! >> 5
    const ai = d[p]! & 31
    const argBytes = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0
    let arg = ai
    if (argBytes > 0 && argBytes <= 4) {
      arg = 0
      for (let i = 1; i <= argBytes; i++) arg = arg * 256 + (d[p + i] ?? 0)
    }
    p += 1 + argBytes
    if ((major === 2 || major === 3) && ai < 28) p += arg
  }
  return heads
}

const cborHead: Edit = (d, { rng }) => {
  const heads = cborHeads(d)
  if (heads.length === 0) return d
  const at = rng.pick(heads)
  const b = d[at]!
  const major = b >> 5
  const ai = b & 31
  switch (rng.below(5)) {
    case 0: // another major type, same argument
      d[at] = (rng.below(8) << 5) | ai
      return d
    case 1: // argument +-1 (a length off by one, a different small int)
      if (ai < 24) d[at] = (major << 5) | ((ai + (rng.oneIn(2) ? 1 : 23)) % 24)
      else if (at + 1 < d.length) d[at + 1] = (d[at + 1]! + (rng.oneIn(2) ? 1 : 255)) & 0xff
      return d
    case 2: // a boundary argument
      d[at] = (major << 5) | rng.pick([0, 23, 24, 25, 26, 27, 28, 31])
      return d
    case 3: // the same small argument in a non-shortest form
      return ai < 24 ? concat(d.subarray(0, at), Uint8Array.of((major << 5) | 24, ai), d.subarray(at + 1)) : d
    default: // drop the item's head (shifts everything after it)
      return concat(d.subarray(0, at), d.subarray(at + 1))
  }
}

type JsonSlot = { parent: Record<string, unknown> | unknown[]; key: string | number }

function jsonSlots(root: unknown, max = 256): JsonSlot[] {
  const slots: JsonSlot[] = []
  const stack: unknown[] = [root]
  while (stack.length > 0 && slots.length < max) {
    const node = stack.pop()
    if (typeof node !== 'object' || node === null) continue
    const parent = node as Record<string, unknown> | unknown[]
    for (const key of Array.isArray(parent) ? parent.keys() : Object.keys(parent)) {
      slots.push({ parent, key })
      stack.push((parent as Record<string | number, unknown>)[key])
    }
  }
  return slots
}

function oddValue(rng: Rng, slots: readonly JsonSlot[]): unknown {
  switch (rng.below(10)) {
    case 0: return rng.pick([null, true, false, 0, -1, 1.5, -0, 2 ** 53, 2 ** 31, -(2 ** 63), 1e308])
    case 1: return rng.pick(['', ' ', '\u0000', '\ud800', 'é', '👨‍👩‍👧', 'at://', 'did:plc:', 'https://', '#atproto', 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454'])
    case 2: return 'x'.repeat(rng.below(4) === 0 ? 1 + rng.below(70_000) : 1 + rng.below(400))
    case 3: return []
    case 4: return {}
    case 5: { // deep nesting
      let v: unknown = 1
      for (let i = rng.below(300); i > 0; i--) v = rng.oneIn(2) ? [v] : { a: v }
      return v
    }
    case 6: return Array.from({ length: 1 + rng.below(rng.oneIn(8) ? 3000 : 8) }, () => 1)
    case 7: return { $type: 'blob', ref: { $link: 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454' }, mimeType: 'image/png', size: rng.below(2_000_000) }
    default: { // a copy of another node of the same document
      const slot = rng.pick(slots)
      return structuredClone((slot.parent as Record<string | number, unknown>)[slot.key])
    }
  }
}

/** Changes one value of JSON text `d` (unchanged when `d` is not JSON). */
export function mutateJson(d: Uint8Array, rng: Rng): Uint8Array {
  let root: unknown
  try {
    root = JSON.parse(Buffer.from(d).toString('utf8'))
  } catch {
    return d
  }
  const slots = jsonSlots(root)
  if (slots.length === 0) return d
  const slot = rng.pick(slots)
  const parent = slot.parent as Record<string | number, unknown>
  const op = rng.below(6)
  if (op === 0) {
    if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1)
    else delete parent[slot.key]
  } else if (op === 1 && Array.isArray(slot.parent)) {
    slot.parent.splice(slot.key as number, 0, structuredClone(slot.parent[slot.key as number]))
  } else {
    parent[slot.key] = oddValue(rng, slots)
  }
  return new Uint8Array(Buffer.from(JSON.stringify(root), 'utf8'))
}

const jsonNode: Edit = (d, { rng }) => mutateJson(d, rng)
const customEdit: Edit = (d, { rng, custom }) => (custom === undefined ? d : custom(d, rng))

const GENERIC: readonly Edit[] = [flipBit, setByte, addByte, setWord, insertBytes, deleteChunk, duplicateChunk, copyChunk, splice, dictionaryToken]
const WITH_CBOR: readonly Edit[] = [...GENERIC, cborHead, cborHead, cborHead]
const WITH_JSON: readonly Edit[] = [...GENERIC, jsonNode, jsonNode, jsonNode, jsonNode, jsonNode]
const WITH_CUSTOM: readonly Edit[] = [...GENERIC, customEdit, customEdit, customEdit, customEdit, customEdit]

/** A new mutant of `input` (the input itself is not modified). */
export function mutate(input: Uint8Array, ctx: MutationContext): Uint8Array {
  const edits = ctx.custom !== undefined ? WITH_CUSTOM : ctx.cbor ? WITH_CBOR : ctx.json === true ? WITH_JSON : GENERIC
  let data: Uint8Array = input.slice()
  const stack = ctx.rng.oneIn(2) ? 1 : 1 << ctx.rng.below(4) // half the mutants are one edit away from their parent
  for (let i = 0; i < stack; i++) data = ctx.rng.pick(edits)(data, ctx)
  if (data.length === 0 && ctx.rng.oneIn(2)) data = randomBytes(ctx.rng, 1 + ctx.rng.below(8))
  return data.length > ctx.maxBytes ? data.slice(0, ctx.maxBytes) : data
}
