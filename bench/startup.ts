// What starting kspawn costs: `node dist/bin/kspawn.js --version`, `--help`
// and `list` against bare `node -e 0`, as the median wall time of fresh
// processes, the cases taking turns so that a slow moment of the machine
// does not fall on one case only. Builds dist/ first. The aim: --version
// within 2x of bare node.
//
//   node --import tsx bench/startup.ts [runs]     (default 21)

import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { machine, median, recordResult } from './results.ts'

const runs = Number(process.argv[2] ?? 21)
const repo = path.dirname(path.dirname(new URL(import.meta.url).pathname))
execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })

const bin = path.join(repo, 'dist', 'bin', 'kspawn.js')
const config = path.join(repo, 'kspawn.config.ts')
const cases: { name: string; args: string[] }[] = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'kspawn --version', args: [bin, '--version'] },
  { name: 'kspawn --help', args: [bin, '--help'] },
]
// list needs the built workflow registry (dist/workflows/index.js).
if (existsSync(path.join(repo, 'dist', 'workflows', 'index.js'))) {
  cases.push({ name: 'kspawn list (kspawn.config.ts)', args: [bin, 'list', '--config', config] })
} else {
  console.log('kspawn list: not measured, dist/workflows/index.js is missing')
}

const times = new Map(cases.map(({ name }) => [name, [] as number[]]))
for (let run = 0; run < runs; run++) {
  for (const { name, args } of cases) {
    const started = performance.now()
    const result = spawnSync(process.execPath, args, { cwd: repo, encoding: 'utf8' })
    const elapsed = performance.now() - started
    if (result.status !== 0) throw new Error(`${name} exited with ${result.status}: ${result.stderr}`)
    times.get(name)?.push(elapsed)
  }
}

const base = median(times.get('node -e 0') ?? [])
console.log(`${new Date().toISOString().slice(0, 10)}, ${machine()}`)
console.log(`median wall time of ${runs} runs, and the ratio to node -e 0:`)
const rows: string[] = []
for (const { name } of cases) {
  const value = median(times.get(name) ?? [])
  const aim = name === 'kspawn --version' ? ` (aim <= 2x: ${value / base <= 2 ? 'PASS' : 'FAIL'})` : ''
  console.log(`  ${name.padEnd(32)} ${value.toFixed(0).padStart(5)} ms  ${(value / base).toFixed(2)}x${aim}`)
  rows.push(`| \`${name}\` | ${value.toFixed(0)} | ${(value / base).toFixed(2)}x${aim} |`)
}
await recordResult('Start-up (bench/startup.ts)', [
  `Fresh processes of the built CLI, median wall time of ${runs} runs, cases taking turns. \`node --import tsx bench/startup.ts ${runs}\`.`,
  '',
  '| command | median (ms) | vs node -e 0 |',
  '|---|---|---|',
  ...rows,
])
