/**
 * Load child of the feedgen and labeler bench sections (`runLoad` in
 * feedgen-replay.ts starts it, so server and client each get a core): GET
 * `url` `requests` times with `concurrency` in flight (keep-alive), optional
 * Bearer token, after 50 untimed requests (JIT, key cache, ranking). Prints
 * one JSON line: `{perSecond, p50, p99, max, failed}` (ms; failed = not 200).
 *
 *   node --import tsx bench/feedgen-load.ts <url> <requests> <concurrency> [token]
 */
import http from 'node:http'

const [url = '', requestsText = '1000', concurrencyText = '16', token = ''] = process.argv.slice(2)
const requests = Number(requestsText)
const concurrency = Number(concurrencyText)
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
const headers: http.OutgoingHttpHeaders = token === '' ? {} : { authorization: `Bearer ${token}` }

function once(): Promise<{ ms: number; status: number }> {
  const start = performance.now()
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        res.resume()
        res.on('end', () => resolve({ ms: performance.now() - start, status: res.statusCode ?? 0 }))
      })
      .on('error', reject)
  })
}

for (let i = 0; i < 50; i++) await once() // warm-up: JIT, key cache, ranking
const latencies: number[] = []
let failed = 0
let next = 0
const start = performance.now()
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++
      const r = await once()
      latencies.push(r.ms)
      if (r.status !== 200) failed++
    }
  }),
)
const seconds = (performance.now() - start) / 1000
latencies.sort((a, b) => a - b)
const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * p) - 1)] ?? 0
process.stdout.write(`${JSON.stringify({ perSecond: requests / seconds, p50: pct(0.5), p99: pct(0.99), max: pct(1), failed })}\n`)
agent.destroy()
