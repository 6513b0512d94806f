/**
 * The value stored under a key whose presence is all the data (index
 * entries, marks, per-DID lists): one byte, never an empty value.
 *
 * Why not empty: classic-level (3.0.0, the `level` driver) copies every
 * key and value into a `new char[]` and frees the copy only when it is
 * non-empty (`DisposeSliceBuffer` skips empty slices), so each empty value
 * written — put, batch or chained batch — leaks one malloc chunk for the
 * life of the process. The feed generator wrote two or more per indexed
 * post and its RSS grew ~7 MB/min in the soak; with this value it is flat.
 * Readers must still accept an empty value: stores written before this
 * hold them.
 */
export const PRESENCE_TEXT = '1'
export const PRESENCE_BYTES: Uint8Array = Uint8Array.of(1)

/** True for a text presence value, old (empty) or new. */
export function isPresenceValue(value: string): boolean {
  return value === '' || value === PRESENCE_TEXT
}
