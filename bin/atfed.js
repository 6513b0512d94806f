#!/usr/bin/env node
// Runs the TypeScript CLI directly: tsx registers a loader so Node 20 can
// import .ts sources (Node 22.6+ could strip types itself; the code is
// erasable TypeScript only).
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
await main(process.argv)
