/**
 * Every key of a `level` database whose value is empty, read raw (whole
 * database, all sublevels). Our writers never store an empty value
 * (core/presence-value.ts: classic-level leaks one allocation per empty
 * value written), and the tests of each writer check it with this.
 */
import type { AbstractLevel } from 'abstract-level'

export async function emptyValueKeys(db: AbstractLevel<any, any, any>): Promise<string[]> {
  const out: string[] = []
  for await (const [key, value] of db.iterator({ keyEncoding: 'view', valueEncoding: 'view' }) as AsyncIterable<[Uint8Array, Uint8Array]>) {
    if (value.length === 0) out.push(Buffer.from(key).toString('utf8'))
  }
  return out
}
