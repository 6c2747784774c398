// What starting kspawn costs, as users run it: the built CLI (node
// dist/bin/kspawn.js, package.json's bin) doing `--version`, `--help` and
// `list` (and `list --json`) with the repository's kspawn.config.ts (a TypeScript config, loaded
// through jiti, importing kspawn and two of its plugins), each against a bare
// `node -e 0` in the same run. Every round runs each case once as a fresh
// process, the cases taking turns and the first one moving from round to
// round, so that a slow moment of the shared machine does not fall on one
// case only; a case's figure is its median over the rounds, its ratio that
// median over node's, and the spread the middle half of the ratios it had
// to node within each round. The aims are about wall time; CPU time (user
// and system, from bash's `time`) is shown beside it, as the load of the
// machine changes it less. Builds dist/ first (npm run build).
//
// Also what each Tab costs once `kspawn completion` is installed, that is
// the completions a Tab asks for (`--get-yargs-completions`, cli/complete.ts):
// the commands with the same aim as a help, the variants (which read the
// config) with that of list.
//
// Informative, with no aim: `list` right after an edit of the config, when
// jiti has to transform it again (JITI_FS_CACHE=false: no transform cache),
// and the Tabs after `run` and `down`.
//
//   npm run bench:startup [-- rounds]     (default 31)

import { execFileSync, spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, recordResult } from './results.ts'

const rounds = Number(process.argv[2] ?? 31)
const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
const bin = path.join(repo, 'dist', 'bin', 'kspawn.js')

interface Case {
  name: string
  args: string[]
  /** The most this case may take, as a multiple of node -e 0. */
  aim?: number
  env?: Record<string, string>
}
const cases: Case[] = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'kspawn --version', args: [bin, '--version'], aim: 1.3 },
  { name: 'kspawn --help', args: [bin, '--help'], aim: 2 },
  // In the repository, whose kspawn.config.ts list finds as a user's own.
  { name: 'kspawn list', args: [bin, 'list'], aim: 3 },
  { name: 'kspawn list, config just edited', args: [bin, 'list'], env: { JITI_FS_CACHE: 'false' } },
  { name: 'kspawn list --json', args: [bin, 'list', '--json'], aim: 3 },
  // What the completion script runs on each Tab (kspawn completion): the command, then the values that need
  // the registry (workflows) or the config (variants; clusters, from the records in the config's workdir).
  { name: 'Tab: kspawn <Tab>', args: [bin, '--get-yargs-completions', 'kspawn', ''], aim: 2 },
  { name: 'Tab: kspawn run <Tab>', args: [bin, '--get-yargs-completions', 'kspawn', 'run', ''] },
  { name: 'Tab: kspawn run dev-loop --variant <Tab>', args: [bin, '--get-yargs-completions', 'kspawn', 'run', 'dev-loop', '--variant', ''], aim: 3 },
  { name: 'Tab: kspawn down <Tab>', args: [bin, '--get-yargs-completions', 'kspawn', 'down', ''] },
]

/** A fresh process of the case: its wall time and its CPU time (user and system), in ms, as bash's `time` reports them. */
function time({ name, args, env }: Case): { wall: number; cpu: number } {
  // The CPU time changes less than the wall time with the load of a shared machine, which makes a process wait for a core.
  const script = 'TIMEFORMAT="%3R %3U %3S"; { time "$@" >/dev/null 2>&3; } 2>&1'
  const result = spawnSync('bash', ['-c', script, 'time', process.execPath, ...args], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  })
  if (result.status !== 0) throw new Error(`${name} exited with ${result.status}: ${result.output[3]}`)
  const [real = NaN, user = NaN, system = NaN] = result.stdout.trim().split(' ').map(Number)
  return { wall: real * 1000, cpu: (user + system) * 1000 }
}

// One untimed round: the files in the page cache, jiti's transform cache filled.
for (const each of cases) time(each)
const load = [loadavg()[0]!]
const wall = cases.map(() => [] as number[])
const cpu = cases.map(() => [] as number[])
for (let round = 0; round < rounds; round++) {
  for (let turn = 0; turn < cases.length; turn++) {
    const index = (round + turn) % cases.length
    const measured = time(cases[index]!)
    wall[index]!.push(measured.wall)
    cpu[index]!.push(measured.cpu)
  }
  if (round % 10 === 9) load.push(loadavg()[0]!)
}
load.push(loadavg()[0]!)

/** The value below which `share` of the values lie, e.g. 0.25. */
function quantile(values: number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * share
  const below = Math.floor(at)
  return sorted[below]! + (sorted[Math.min(below + 1, sorted.length - 1)]! - sorted[below]!) * (at - below)
}

/** A table row a case: median, middle half, the median's ratio to node -e 0's, and the middle half of the ratios within a round. */
function rows(times: number[][], judged: boolean): { rows: string[]; verdicts: string[] } {
  const node = times[0]!
  const base = median(node)
  const rows: string[] = []
  const verdicts: string[] = []
  for (const [index, { name, aim }] of cases.entries()) {
    const own = times[index]!
    const ratio = median(own) / base
    const ratios = own.map((ms, round) => ms / node[round]!)
    const spread = index === 0 ? '' : `${quantile(ratios, 0.25).toFixed(2)}-${quantile(ratios, 0.75).toFixed(2)}x`
    const verdict = !judged || aim === undefined ? '' : `<= ${aim}x: **${ratio <= aim ? 'PASS' : 'FAIL'}**`
    if (verdict) verdicts.push(`${name} ${ratio.toFixed(2)}x (aim ${verdict})`)
    rows.push(`| \`${name}\` | ${median(own).toFixed(0)} | ${quantile(own, 0.25).toFixed(0)}-${quantile(own, 0.75).toFixed(0)} | ${ratio.toFixed(2)}x | ${spread} |${judged ? ` ${verdict} |` : ''}`)
  }
  return { rows, verdicts }
}

const wallRows = rows(wall, true)
const cpuRows = rows(cpu, false)
const body = [
  `The built CLI (\`node dist/bin/kspawn.js\`) against a bare \`node -e 0\`, fresh processes, ${rounds} rounds in which the cases take turns. \`npm run bench:startup -- ${rounds}\`.`,
  '',
  'Wall time, what the aims are about:',
  '',
  '| command | median (ms) | middle half (ms) | median / node -e 0 | middle half of the ratios within a round | aim |',
  '|---|---|---|---|---|---|',
  ...wallRows.rows,
  '',
  'CPU time (user and system), which the load of the machine changes less:',
  '',
  '| command | median (ms) | middle half (ms) | median / node -e 0 | middle half of the ratios within a round |',
  '|---|---|---|---|---|',
  ...cpuRows.rows,
  '',
  `One-minute load average ${load.map((value) => value.toFixed(1)).join(' → ')} over the run (2 cores, shared with other work).`,
]
console.log(body.join('\n'))
console.log(`\n${wallRows.verdicts.join('\n')}`)
await recordResult('Start-up (bench/startup.ts)', body)
