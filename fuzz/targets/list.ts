/**
 * The fuzz targets, by name, as module URLs (each module exports `target`).
 * Loaded by URL inside a worker so coverage starts before the code under
 * test is compiled.
 */
export const TARGET_NAMES = ['cbor', 'car', 'frame', 'mst-node', 'did-doc', 'lexicon', 'jwt', 'repo', 'syntax'] as const
export type TargetName = (typeof TARGET_NAMES)[number]

export function targetUrl(name: TargetName): string {
  return new URL(`./${name}.ts`, import.meta.url).href
}
