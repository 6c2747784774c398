// Does memory stay flat however much a command prints? Runs commands that
// print a lot through the runner (log file, events, tail) and reports this
// process's peak RSS, with the wall time of the same command sent straight to
// /dev/null for comparison.
//
//   node --import tsx bench/runner-memory.ts [bytes]     (default 1 GiB)

import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createRunner } from '../engine/runner.ts'

const bytes = Number(process.argv[2] ?? 1024 ** 3)
const cases = {
  'one long line': `head -c ${bytes} /dev/zero | tr '\\0' x`,
  'short lines (yes)': `yes | head -c ${bytes}`,
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`
const maxRss = () => process.resourceUsage().maxRSS * 1024
const runDir = await mkdtemp(path.join(tmpdir(), 'kspawn-bench-'))
try {
  console.log(`printing ${mib(bytes)} per command; peak RSS before: ${mib(maxRss())}`)
  for (const [name, script] of Object.entries(cases)) {
    let started = performance.now()
    spawnSync('sh', ['-c', `${script} > /dev/null`], { stdio: 'ignore' })
    const direct = performance.now() - started

    let events = 0
    const runner = createRunner({ runDir, dryRun: false, emit: () => events++ })
    started = performance.now()
    const result = await runner.run({ argv: ['sh', '-c', script] }, { id: name.replace(/\W+/g, '-') })
    const viaRunner = performance.now() - started
    const logged = (await stat(result.logFile as string)).size

    console.log(
      `${name}: peak RSS ${mib(maxRss())}, ${(viaRunner / 1000).toFixed(1)}s through the runner` +
        ` vs ${(direct / 1000).toFixed(1)}s to /dev/null, log ${mib(logged)}, ${events} events`,
    )
  }
} finally {
  await rm(runDir, { recursive: true, force: true })
}
