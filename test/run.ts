// The test runner behind `npm test`: uvu's suites, run one file after another
// as uvu's own CLI does, but the run fails whenever fewer tests passed than
// were declared. uvu 0.5 reports a suite whose `before` hook threw as a green
// "(0 / N)" and exits 0; here such a suite fails the run, with the hook's
// error (recorded by test/suite.ts). The closing line, "N passed, N failed,
// N skipped", counts every declared test that did not pass as failed.
//
// When the suites to run need the test world and it is not up, the runner
// brings it up (npm run world:up) and takes it down again at the end, so
// that `npm test` stands alone on a fresh machine; a world already up is
// used as it is and left up.
//
//   tsx test/run.ts [folder or file ...]     default: test/
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { inspect } from 'node:util'
import { parse } from 'uvu/parse'
import type { HookFailure } from './suite.ts'
import { isAlive } from './world/process.ts'
import { paths, readRecord, repoDir } from './world/state.ts'

/** What uvu's suite runner resolves to: its formatted failures (or true), tests passed, skipped, declared. */
type SuiteOutcome = [errors: string | true, passed: number, skipped: number, declared: number]
type SuiteRunner = () => Promise<SuiteOutcome>

declare global {
  var UVU_DEFER: number | undefined
  var UVU_INDEX: number | undefined
  var UVU_QUEUE: Array<Array<string | null | SuiteRunner>> | undefined
}

// The build cache is off for every kspawn the suites start, unless a test turns it on (KSPAWN_NO_CACHE: ''):
// the suites build the same branches in many workdirs, and a test that builds must see its build run.
process.env.KSPAWN_NO_CACHE ??= '1'

const TEST_FILE = /\.test\.ts$/
/** Suites that act in the test world (its Docker engine, registry, fixture and stand-ins). */
const NEEDS_WORLD = /(^|\/)test\/(world|tasks|e2e|workflows)\//
const IGNORE = [/(^|\/)\.state(\/|$)/, /(^|\/)fixtures(\/|$)/]

interface Lost {
  file: string
  suite: string
  declared: number
  passed: number
  why: string
}

async function testFiles(targets: string[]): Promise<{ name: string; file: string }[]> {
  const files: { name: string; file: string }[] = []
  for (const target of targets) {
    const info = await stat(target).catch(() => undefined)
    if (info === undefined) throw new Error(`npm test: no such folder or test file: ${target}`)
    if (info.isFile()) {
      files.push({ name: path.relative(process.cwd(), path.resolve(target)), file: path.resolve(target) })
      continue
    }
    const found = await parse(target, TEST_FILE, { ignore: IGNORE })
    files.push(...found.suites.map((suite) => ({ name: path.relative(process.cwd(), suite.file), file: suite.file })))
  }
  return files
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : inspect(error)
  return text
    .split('\n')
    .filter((line) => !/^\s*at .*(node:internal|node_modules\/uvu)/.test(line))
    .join('\n      ')
}

function describeHooks(failures: HookFailure[]): string {
  if (failures.length === 0) return 'a hook threw, and uvu dropped its error (import suite/test from test/suite.ts to see it)'
  return failures.map((failure) => `its ${failure.hook} hook${failure.test ? ` (for "${failure.test}")` : ''} threw: ${describeError(failure.error)}`).join('\n    ')
}

/** Whether the world's engine and registry run, as world:up left them. */
async function worldIsUp(): Promise<boolean> {
  const record = await readRecord()
  return existsSync(paths.env) && record.dockerd !== undefined && isAlive(record.dockerd.pid) && record.registry !== undefined && isAlive(record.registry.pid)
}

/** Runs `npm run world:<verb>`, its output shown; whether it succeeded. */
function worldScript(verb: 'up' | 'down'): boolean {
  return spawnSync('npm', ['run', '--silent', `world:${verb}`], { cwd: repoDir, stdio: ['ignore', 'inherit', 'inherit'] }).status === 0
}

async function main(argv: string[]): Promise<number> {
  const started = process.hrtime.bigint()
  const files = await testFiles(argv.length > 0 ? argv : ['test'])
  const write = (text: string) => process.stdout.write(text)
  const needsWorld = files.some(({ file }) => NEEDS_WORLD.test(file))
  if (needsWorld && (await worldIsUp())) write(`npm test: using the test world that is up (${path.dirname(paths.env)}); it stays up\n`)
  else if (needsWorld) {
    write('npm test: the test world is not up: bringing it up (npm run world:up), and down again when the tests end\n')
    if (!worldScript('up')) {
      write('npm test: the test world could not be brought up (see above); no test ran\n')
      worldScript('down')
      return 1
    }
    startedWorld = true
  }
  const lost: Lost[] = []
  const failedFiles = new Set<string>()
  let declared = 0
  let passed = 0
  let skipped = 0
  let failing = false

  // Tests declared through uvu directly would bypass the hook records: refuse them up front.
  for (const { name, file } of files) {
    if (/^import (?!type )[^\n]*from ['"]uvu['"]/m.test(await readFile(file, 'utf8'))) {
      write(`${name} imports uvu directly: import { suite } or { test } from test/suite.ts, so that a failing hook fails the run\n`)
      failing = true
      failedFiles.add(name)
    }
  }

  // As uvu's CLI does: suites queue themselves per file (UVU_INDEX) instead of running at once.
  // uvu reads UVU_DEFER when it is first loaded, so nothing that imports it may load before this line.
  globalThis.UVU_DEFER = 1
  const records = (await import('./suite.ts')).suiteRecords()
  const queue = (globalThis.UVU_QUEUE ??= [])

  for (const [index, { name, file }] of files.entries()) {
    globalThis.UVU_INDEX = index
    queue[index] = [name]
    try {
      await import(path.isAbsolute(file) ? `file://${file}` : file)
    } catch (error) {
      write(`\n${name} could not be loaded: ${describeError(error)}\n`)
      // Its tests are unknown: counted as one that failed.
      declared += 1
      failing = true
      failedFiles.add(name)
    }
    for (const [key, pending] of records.pending) {
      lost.push({ file: name, suite: pending.suite, declared: pending.declared, passed: 0, why: 'its tests were declared but run() was never called' })
      declared += pending.declared
      records.pending.delete(key)
    }
  }

  for (const group of queue) {
    if (!group) continue
    const [name, ...runners] = group as [string, ...SuiteRunner[]]
    write(`\n${name}\n`)
    for (const runSuite of runners) {
      const before = records.hookFailures.length
      let outcome: SuiteOutcome
      try {
        outcome = await runSuite()
      } catch (error) {
        // An `after` hook that throws escapes uvu's runner: the suite's counts are gone with it.
        const hooks = records.hookFailures.slice(before)
        write(`\n  FAIL ${name}: the suite stopped: ${hooks.length > 0 ? describeHooks(hooks) : describeError(error)}\n`)
        failing = true
        failedFiles.add(name)
        continue
      }
      const [errors, ran, skip, max] = outcome
      declared += max
      passed += ran
      skipped += skip
      if (errors !== true) {
        write(`\n${errors}\n`)
        failing = true
        failedFiles.add(name)
      }
      // A throwing before.each is a failed test, reported by uvu; a throwing before or after.each stops the suite.
      const hooks = records.hookFailures.slice(before).filter((failure) => failure.hook !== 'before.each')
      if (hooks.length > 0 || (errors === true && ran < max)) {
        const suite = hooks[0]?.suite ?? ''
        lost.push({ file: name, suite, declared: max, passed: ran, why: describeHooks(hooks) })
      }
    }
  }

  for (const entry of lost) {
    const suite = entry.suite ? `suite "${entry.suite}" in ${entry.file}` : entry.file
    write(`\n  LOST ${suite}: ${entry.passed} of ${entry.declared} tests passed, the others never ran: ${entry.why}\n`)
    failing = true
    failedFiles.add(entry.file)
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  write(`\n  Total:     ${declared}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  ${seconds.toFixed(1)}s\n`)
  if (failedFiles.size > 0) write(`  Failed in: ${[...failedFiles].join(', ')}\n`)
  write(`\n${passed} passed, ${declared - passed} failed, ${skipped} skipped\n`)
  finished = true
  return failing || passed < declared ? 1 : 0
}

/** Set once this run brought the world up: it then takes it down, also when interrupted. */
let startedWorld = false
/** Set when every suite has run. */
let finished = false

function takeWorldDown(): void {
  if (!startedWorld) return
  startedWorld = false
  process.stdout.write('npm test: taking down the test world it brought up (npm run world:down)\n')
  worldScript('down')
}

process.on('exit', () => {
  if (finished) return
  process.exitCode = 1
  console.error('\nThe test run ended before every suite had run: a test left nothing for Node to wait on (an unsettled promise?).')
  takeWorldDown()
})

for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    process.stdout.write(`\nnpm test: interrupted (${signal})\n`)
    finished = true
    takeWorldDown()
    process.exit(status)
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    takeWorldDown()
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error))
    finished = true
    takeWorldDown()
    process.exitCode = 1
  },
)
