/**
 * Label signatures (label spec, "signing"): `sig` is the labeler's
 * `#atproto_label` key's ECDSA signature over SHA-256 of the DAG-CBOR of the
 * label WITHOUT `sig` — and without anything else: the object is rebuilt
 * from the spec fields only (`ver, src, uri, cid?, val, neg? (only when
 * true), cts, exp?`), no `$type`, no undefined values. The keypair hashes
 * inside and returns 64-byte compact low-S; the verifier is strict (low-S,
 * 64 bytes).
 *
 * There is no domain separation between labels and other signed objects,
 * which is why the signed map is rebuilt here and never taken from a caller.
 */
import type { Keypair } from '../../core/crypto/keypair.ts'
import type { PublicKey } from '../../core/crypto/key-types.ts'
import { verifySignature } from '../../core/crypto/verify.ts'
import { encodeCbor } from '../../core/data/cbor.ts'
import type { LexMap } from '../../core/data/cbor.ts'
import type { SignedLabel, UnsignedLabel } from './label.ts'

/** The exact bytes a label's `sig` signs. */
export function labelSigningBytes(label: UnsignedLabel): Uint8Array {
  const map: LexMap = { ver: 1, src: label.src, uri: label.uri }
  if (label.cid !== undefined) map.cid = label.cid
  map.val = label.val
  if (label.neg === true) map.neg = true
  map.cts = label.cts
  if (label.exp !== undefined) map.exp = label.exp
  return encodeCbor(map)
}

/** The label with its `sig`; only the spec fields of `label` are kept. */
export function signLabel(label: UnsignedLabel, keypair: Pick<Keypair, 'sign'>): SignedLabel {
  const unsigned: { -readonly [K in keyof UnsignedLabel]: UnsignedLabel[K] } = { ver: 1, src: label.src, uri: label.uri, val: label.val, cts: label.cts }
  if (label.cid !== undefined) unsigned.cid = label.cid
  if (label.neg === true) unsigned.neg = true
  if (label.exp !== undefined) unsigned.exp = label.exp
  return { ...unsigned, sig: keypair.sign(labelSigningBytes(unsigned)) }
}

/** True when `sig` is `key`'s signature over the label. Throws only for an unparsable key (`InvalidDidKey`). */
export function verifyLabel(label: SignedLabel, key: PublicKey | string): boolean {
  return verifySignature(key, labelSigningBytes(label), label.sig)
}
