/**
 * The reference pipelines' frame source in the benches: subscribe to a
 * scripted host's `subscribeRepos` from cursor 0 and hand each frame, in
 * order and one at a time, to `handle`; the clock (wall and CPU) runs from the
 * open socket to the last handled frame.
 */
import WebSocket from 'ws'

export type ReplayTiming = { readonly ms: number; readonly cpu: NodeJS.CpuUsage }

export async function replayFrames(origin: string, count: number, handle: (frame: Uint8Array) => Promise<unknown>): Promise<ReplayTiming> {
  const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/xrpc/com.atproto.sync.subscribeRepos?cursor=0`, { perMessageDeflate: false })
  try {
    const queue: Uint8Array[] = []
    let wake: (() => void) | null = null
    ws.on('message', (data: Buffer) => {
      queue.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      wake?.()
    })
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const cpu = process.cpuUsage()
    const start = performance.now()
    for (let handled = 0; handled < count; handled++) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
      await handle(queue.shift()!)
    }
    return { ms: performance.now() - start, cpu: process.cpuUsage(cpu) }
  } finally {
    ws.close()
  }
}
