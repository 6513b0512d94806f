/**
 * The benchmark sections, in the order a full run executes them. Each name is
 * a file bench/<name>.ts exporting `section: BenchSection`; the child process
 * loads only the one it runs, so the runner itself never imports a
 * reference library.
 */
import type { BenchSection } from './harness.ts'

export const SECTION_NAMES = ['repo', 'crypto', 'identity', 'plc', 'pds', 'relay', 'relay-cluster', 'feedgen', 'labeler'] as const
export type SectionName = (typeof SECTION_NAMES)[number]

export function isSectionName(name: string): name is SectionName {
  return (SECTION_NAMES as readonly string[]).includes(name)
}

export async function loadSection(name: SectionName): Promise<BenchSection> {
  const module = (await import(`./${name}.ts`)) as { section: BenchSection }
  return module.section
}
