/**
 * The atproto data model as JavaScript values ("lex values"): what the CBOR
 * decoder returns, what the encoder accepts, and what `json.ts` converts to
 * and from the JSON form.
 *
 * Contract: numbers are safe integers; strings are well-formed Unicode;
 * objects are plain (prototype Object.prototype or null) with string keys;
 * bytes are Uint8Array; links are multiformats `CID`s.
 */
import type { CID } from './cid.ts'

export type LexValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | CID
  | LexValue[]
  | { [key: string]: LexValue }

export type LexMap = { [key: string]: LexValue }
