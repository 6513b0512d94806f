/**
 * A raw `ws` subscriber to a PDS's subscribeRepos for tests: collects every
 * message; `until(pred)` waits (bounded) for a message matching `pred`.
 */
import WebSocket from 'ws'
import { parseFrame } from '../../core/stream/event-parse.ts'
import type { StreamMessage } from '../../core/stream/events.ts'

export type FirehoseCollector = {
  messages: StreamMessage[]
  until(pred: (m: StreamMessage) => boolean, timeoutMs?: number): Promise<StreamMessage>
  close(): void
}

export function collectFirehose(pdsUrl: string): Promise<FirehoseCollector> {
  const ws = new WebSocket(`${pdsUrl.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos`)
  const messages: StreamMessage[] = []
  const waiters = new Set<() => void>()
  ws.on('message', (data: Buffer) => {
    const frame = parseFrame(new Uint8Array(data))
    if (frame.kind === 'message') messages.push(frame.message)
    for (const wake of waiters) wake()
  })
  const collector: FirehoseCollector = {
    messages,
    until: (pred, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(pred)
          if (found === undefined) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(found)
        }
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no matching firehose message among ${messages.length}`))
        }, timeoutMs)
        waiters.add(check)
        check()
      }),
    close: () => ws.close(),
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(collector))
    ws.once('error', reject)
  })
}
