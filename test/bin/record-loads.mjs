// node --import ./record-loads.mjs ...: appends the URL of every module that
// node's ESM loader loads to the file named by $KSPAWN_RECORD_LOADS, one a
// line, to see what a command line loads (test/bin/dist.test.ts). CommonJS
// modules that a CommonJS module requires do not pass through it.
import { appendFileSync } from 'node:fs'
import { register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

// Registered from the main thread, this same file runs again as the hooks, in node's loader thread.
if (isMainThread) register(import.meta.url, { data: process.env.KSPAWN_RECORD_LOADS })

let file = ''

export function initialize(data) {
  file = data
}

export async function load(url, context, nextLoad) {
  if (file) appendFileSync(file, `${url}\n`)
  return nextLoad(url, context)
}
