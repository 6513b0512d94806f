/**
 * The recorded-firehose host both sides of the feedgen and labeler bench
 * sections replay from. The `ours` side runs first: it records a stream
 * (feedgen-data.ts) against a fresh PLC directory, saves it in the run's
 * shared directory and serves it from a scripted host child. The
 * `reference` side, another child process of the same run, serves the
 * saved bytes (recording its own only if run alone) and removes the shared
 * directory when done.
 */
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { startTestPlc } from '../test/helpers/plc.ts'
import { loadStream, recordStream, saveStream } from './feedgen-data.ts'
import type { RecordedStream, StreamShape } from './feedgen-data.ts'
import { loadHostChild, startHostChild } from './relay-ingest-modes.ts'
import type { HostChild } from './relay-ingest-modes.ts'

type TestPlc = Awaited<ReturnType<typeof startTestPlc>>

const startPlc = (): Promise<TestPlc> => startTestPlc({ clock: { now: () => Date.now(), set() {}, advance() {} } })

/** Ours: a fresh recording, saved to `sharedDir` for the reference side. */
export async function withRecordedHost(
  sharedDir: string,
  shape: StreamShape,
  run: (recorded: { host: HostChild; plcUrl: string; stream: RecordedStream }) => Promise<void>,
): Promise<void> {
  rmSync(sharedDir, { recursive: true, force: true })
  mkdirSync(sharedDir, { recursive: true })
  const plc = await startPlc()
  const host = await startHostChild()
  try {
    const stream = await recordStream(plc.url, shape)
    saveStream(sharedDir, stream)
    await loadHostChild(host, stream.frames, sharedDir)
    await run({ host, plcUrl: plc.url, stream })
  } finally {
    await host.close()
    await plc.stop()
  }
}

/** Reference: the recording ours saved (or a new one), served the same way; `sharedDir` removed after. */
export async function withSavedHost(
  sharedDir: string,
  shape: StreamShape,
  run: (saved: { host: HostChild; stream: Pick<RecordedStream, 'frames' | 'keys'> }) => Promise<void>,
): Promise<void> {
  const host = await startHostChild()
  let plc: TestPlc | null = null
  try {
    let stream = loadStream(sharedDir)
    if (stream === null) {
      plc = await startPlc()
      stream = await recordStream(plc.url, shape)
    }
    await loadHostChild(host, stream.frames, tmpdir())
    await run({ host, stream })
  } finally {
    rmSync(sharedDir, { recursive: true, force: true })
    await host.close()
    await plc?.stop()
  }
}
