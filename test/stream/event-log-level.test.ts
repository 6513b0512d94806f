/**
 * LevelEventLog: the EventLog compliance suite (with the in-memory tail and
 * with it disabled, so both read paths run), then kill -9 safety of seqs in a
 * real child process, and the key layout.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { LevelEventLog } from '../../core/stream/event-log-level.ts'
import type { LevelEventLogOptions } from '../../core/stream/event-log-level.ts'
import type { EventLogBatchOp } from '../../core/stream/event-log.ts'
import { eventKey, seqOfKey, timeOfKey } from '../../core/stream/event-log-keys.ts'
import { runEventLogCompliance } from './event-log-compliance.ts'
import type { EventLogHarness, MakeEventLog } from './event-log-compliance.ts'

function levelHarness(extra: LevelEventLogOptions): MakeEventLog {
  return async ({ now }) => {
    const dir = await mkdtemp(join(tmpdir(), 'atfed-eventlog-'))
    const open = async (options: { initialSeq?: number }): Promise<EventLogHarness> => {
      const db = new Level<string, string>(dir)
      const log = await LevelEventLog.open(db, { ...extra, ...options, now })
      const closeDb = async (): Promise<void> => {
        await log.close()
        await db.close()
      }
      return {
        log,
        writeBatch: (ops: readonly EventLogBatchOp[]) => db.batch([...ops], { sync: true }),
        reopen: async (options = {}) => {
          await closeDb()
          return open(options)
        },
        close: async () => {
          await closeDb()
          await rm(dir, { recursive: true, force: true })
        },
      }
    }
    return open({})
  }
}

runEventLogCompliance('LevelEventLog', levelHarness({}))
runEventLogCompliance('LevelEventLog without a memory tail', levelHarness({ tailFramesMax: 0 }))

test('keys sort by seq and carry the append time', () => {
  const a = eventKey(255, 2 ** 40)
  const b = eventKey(256, 0)
  assert.equal(Buffer.compare(a, b), -1)
  assert.equal(seqOfKey(a), 255)
  assert.equal(timeOfKey(a), 2 ** 40)
  assert.equal(seqOfKey(eventKey(Number.MAX_SAFE_INTEGER, 1)), Number.MAX_SAFE_INTEGER)
})

test('kill -9 during an append burst: every acknowledged seq is stored, none is reused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'atfed-eventlog-kill-'))
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'event-log-appender.ts'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const acked: number[] = []
    let buffered = ''
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject)
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8')
        const lines = buffered.split('\n')
        buffered = lines.pop() as string
        for (const line of lines) acked.push(Number(line))
        if (acked.length >= 300 && child.exitCode === null && !child.killed) {
          child.kill('SIGKILL')
          resolve()
        }
      })
      child.on('exit', () => resolve())
    })
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.on('exit', resolve)))
    assert.ok(acked.length >= 300, `child acknowledged only ${acked.length} seqs`)
    assert.deepEqual(acked, Array.from({ length: acked.length }, (_, i) => i + 1), 'acknowledged seqs are 1..n')
    const db = new Level<string, string>(dir)
    const log = await LevelEventLog.open(db)
    const stored: number[] = []
    for await (const e of log.read(0)) stored.push(e.seq)
    for (const seq of acked) assert.ok(stored.includes(seq), `acknowledged seq ${seq} lost`)
    const maxStored = Math.max(...stored)
    const [next] = await log.append([(await import('./fixtures.ts')).unsequenced(1)])
    assert.ok((next as number) > maxStored, `seq ${next} reused (max stored ${maxStored})`)
    await log.close()
    await db.close()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
