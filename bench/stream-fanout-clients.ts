/**
 * Child process of bench/stream-fanout.ts: opens `count` plain `ws` clients on
 * `url`, counts the binary messages each receives (no decoding: the server's
 * fan-out is what is measured), prints `ready` once all are open and `done <ms>`
 * when every client has received `expected` messages, then stays connected
 * until it is killed.
 */
import WebSocket from 'ws'

const [url, countArg, expectedArg] = process.argv.slice(2) as [string, string, string]
const count = Number(countArg)
const expected = Number(expectedArg)
let open = 0
let finished = 0
let firstAt = 0
for (let i = 0; i < count; i++) {
  const ws = new WebSocket(url, { perMessageDeflate: false })
  let received = 0
  ws.on('open', () => {
    if (++open === count) process.stdout.write('ready\n')
  })
  ws.on('message', () => {
    if (firstAt === 0) firstAt = performance.now()
    if (++received === expected && ++finished === count) {
      const cpu = process.cpuUsage()
      // Stay connected (the parent measures the server with every consumer
      // still subscribed, then kills this process).
      process.stdout.write(`done in ${Math.round(performance.now() - firstAt)} ms, client CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms\n`)
    }
  })
  ws.on('close', (code) => {
    if (finished === count) process.exit(0) // the server went away after the run
    if (received < expected) {
      process.stderr.write(`client ${i} closed (${code}) after ${received} messages\n`)
      process.exit(1)
    }
  })
}
