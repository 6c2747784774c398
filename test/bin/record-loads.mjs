// node --import ./record-loads.mjs ...: writes what a process loads to the
// file named by $KSPAWN_RECORD_LOADS, one module a line: "import <url>" for
// each module that node's ESM loader loads, as it loads it, and "require
// <path>" for each CommonJS module in require's cache when the process
// exits (test/bin/dist.test.ts).
import { appendFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

let file = process.env.KSPAWN_RECORD_LOADS ?? ''

if (isMainThread && file) {
  // This same file runs again as the hooks, in node's loader thread.
  register(import.meta.url, { data: file })
  const required = createRequire(import.meta.url).cache
  process.on('exit', () => appendFileSync(file, Object.keys(required).map((path) => `require ${path}\n`).join('')))
}

export function initialize(data) {
  file = data
}

export async function load(url, context, nextLoad) {
  appendFileSync(file, `import ${url}\n`)
  return nextLoad(url, context)
}
