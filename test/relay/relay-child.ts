/**
 * Child process for the relay kill -9 test: starts a relay from the JSON
 * config in argv[2], prints `READY <url>` and runs until it is killed.
 */
import { startRelay } from '../../relay/server.ts'
import type { RelayConfig } from '../../relay/config.ts'

const config = JSON.parse(process.argv[2] ?? '{}') as RelayConfig
const relay = await startRelay(config, { logLine: (line) => process.stderr.write(`${line}\n`) })
process.stdout.write(`READY ${relay.url}\n`)
setInterval(() => {}, 1 << 30)
