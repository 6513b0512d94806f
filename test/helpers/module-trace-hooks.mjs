// Module customization hooks for tests: every module URL Node loads is
// appended (one per line) to the file given as `data.file` to register().
// test/cli/main.test.ts uses it to prove which files a command loads.
import { appendFileSync } from 'node:fs'

let file = null

export function initialize(data) {
  file = data.file
}

export async function load(url, context, nextLoad) {
  if (file !== null) appendFileSync(file, `${url}\n`)
  return nextLoad(url, context)
}
