/**
 * Child process of bench/relay-ingest.ts: a scripted upstream host
 * (test/helpers/fake-pds-host.ts) in its own process, so the relay's CPU is
 * measured without the sender's. Protocol over IPC: the child sends
 * `{origin}`; the parent sends `{file}` (frames, each a 4-byte big-endian
 * length then the bytes, seqs 1..n); the child stores them and answers
 * `{loaded: n}`; `{exit: true}` ends it.
 */
import { readFileSync } from 'node:fs'
import { startFakePdsHost } from '../test/helpers/fake-pds-host.ts'

const host = await startFakePdsHost()
process.send?.({ origin: host.origin })
process.on('message', (message: { file?: string; exit?: boolean }) => {
  if (message.exit === true) {
    void host.close().then(() => process.exit(0))
    return
  }
  const bytes = readFileSync(message.file as string)
  let seq = 0
  for (let at = 0; at < bytes.length; ) {
    const length = bytes.readUInt32BE(at)
    host.emitRaw(new Uint8Array(bytes.buffer, bytes.byteOffset + at + 4, length), { seq: ++seq })
    at += 4 + length
  }
  process.send?.({ loaded: seq })
})
