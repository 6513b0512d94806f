// Entry of a fuzzing worker thread: register the TypeScript loader in this
// thread (the parent's --import does not reach workers), then run the loop.
import { register } from 'tsx/esm/api'

register()
await import('./worker-main.ts')
