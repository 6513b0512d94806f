// Entry of a relay verification worker thread: register the TypeScript
// loader in this thread (bin/atfed.js does it for the main thread only),
// then run the worker module.
import { register } from 'tsx/esm/api'

register()
await import('./verify-worker-main.ts')
