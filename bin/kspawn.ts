#!/usr/bin/env node
// The kspawn command. `kspawn --version` is answered before anything else is
// loaded, so that it costs little more than starting node; every other
// command line goes to main(), which parses it and maps errors to exit
// statuses: 2 usage or config, 1 a failed step, 130 interrupted.
import module from 'node:module'
import { readVersion } from '../cli/version.ts'

const argv = process.argv.slice(2)
if (argv.length === 1 && argv[0] === '--version') {
  process.stdout.write(`${readVersion()}\n`)
} else {
  // Output piped into a reader that stops early (| head): a run goes on to its end, so that its commands are not orphaned.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error
    })
  }
  // Node 22.1 and later keep the code they compile from kspawn's modules (and its dependencies') on
  // disk for the next start, each file's checked against its contents (os.tmpdir()/node-compile-cache,
  // or $NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off). Node 20 has no such cache.
  ;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
  const { main } = await import('../cli/main.ts')
  process.exitCode = await main(argv)
}
