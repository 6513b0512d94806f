/**
 * Child process for the kill -9 test: appends events to a LevelEventLog in
 * `argv[2]` forever, printing each acknowledged (durable) seq on its own line.
 * Half of the appends go through `appendOps` + a batch that also writes an
 * unrelated key, as the PDS write path does.
 */
import { Level } from 'level'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { EventLogBatchOp } from '../../core/stream/event-log.ts'
import { unsequenced } from './fixtures.ts'

const db = new Level<string, string>(process.argv[2] as string)
const log = await LevelEventLog.open(db)
const other = db.sublevel<string, string>('repo', {})
for (let n = 1; ; n++) {
  if (n % 2 === 0) {
    const seqs = await log.append([unsequenced(n)])
    process.stdout.write(`${seqs.join('\n')}\n`)
  } else {
    const pending = log.appendOps([unsequenced(n), unsequenced(n + 1_000_000)])
    const ops = [...pending.ops, { type: 'put', sublevel: other, key: `head-${n}`, value: String(pending.seqs[1]) }]
    await db.batch(ops as EventLogBatchOp[], { sync: true })
    pending.commit()
    process.stdout.write(`${pending.seqs.join('\n')}\n`)
  }
}
