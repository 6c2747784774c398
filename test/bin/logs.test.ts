// kspawn logs: which run and step it picks, the log as written, its errors
// (exit 2), and --follow on a run that is alive: a live process holds the
// variant's lock, as run-lock.ts defines it, while the test writes the log
// and state.json the way a run does.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { Registry } from '../../cli/registry.ts'
import { StepError } from '../../engine/errors.ts'
import type { LockRecord } from '../../engine/run/run-lock.ts'
import type { RunRecord } from '../../engine/run/run-state.ts'
import type { Task } from '../../engine/run/task.ts'
import { capture, fakeTask, writeConfigFile } from '../engine/workflow-helpers.ts'
import { inProcessCli } from './in-process-cli.ts'

const echoing = (id: string, fail = false): Task =>
  fakeTask(id, {
    run: async (ctx, services) => {
      await services.runner.run({ argv: ['echo', `${id} of ${ctx.variant.name}`] }, { id, variant: ctx.variant.name })
      if (fail && ctx.variant.name === 'broken') throw new StepError(`${id} (broken) failed: build/run.sh make exited with code 2`)
    },
  })
const tasks = [echoing('fetch-source'), echoing('build', true), echoing('cluster-up')]
const registry: Registry = { workflows: [{ id: 'dev-loop', description: 'the loop', tasks }], tasks }

let dir = ''
let workdir = ''
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kspawn-logs-'))
  workdir = path.join(dir, '.kspawn')
  await writeConfigFile(dir, ['denyattach', 'broken', 'other'])
  // One real run of two variants: denyattach passes, broken fails at build.
  assert.is((await kspawn(['run', 'dev-loop', '--variant', 'denyattach', '--variant', 'broken', '--renderer', 'silent'])).exitCode, 1)
})
test.after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const kspawn = inProcessCli(() => dir, () => registry)

async function firstRun(): Promise<{ id: string; runDir: string; record: RunRecord }> {
  const [id] = (await readdir(path.join(workdir, 'runs'))).sort()
  const runDir = path.join(workdir, 'runs', id!)
  return { id: id!, runDir, record: JSON.parse(await readFile(path.join(runDir, 'state.json'), 'utf8')) as RunRecord }
}

test('without a step: the step a variant stopped at, else the last that ran; the log on stdout as written, which step of which run on stderr', async () => {
  const { id, runDir } = await firstRun()
  const passed = await kspawn(['logs', 'denyattach'])
  assert.is(passed.exitCode, 0, passed.stderr)
  const clusterUp = path.join(runDir, 'denyattach', 'cluster-up.log')
  assert.is(passed.stdout, await readFile(clusterUp, 'utf8'))
  assert.match(passed.stdout, /^\$ echo 'cluster-up of denyattach'\n/)
  assert.is(passed.stderr, `cluster-up (denyattach), run ${id}, done: ${clusterUp}\n`)

  const failed = await kspawn(['logs', 'broken'])
  assert.is(failed.exitCode, 0)
  assert.is(failed.stdout, await readFile(path.join(runDir, 'broken', 'build.log'), 'utf8'))
  assert.is(failed.stderr, `build (broken), run ${id}, failed: ${path.join(runDir, 'broken', 'build.log')}\n`)

  const named = await kspawn(['logs', 'denyattach', 'fetch-source'])
  assert.is(named.exitCode, 0)
  assert.is(named.stdout, await readFile(path.join(runDir, 'denyattach', 'fetch-source.log'), 'utf8'))
})

test('bad input exits 2 before anything: an unknown variant or step, no run yet, a step not started', async () => {
  const { id } = await firstRun()
  const cases: [string[], string | RegExp][] = [
    [['logs', 'denyatach'], /^unknown variant "denyatach": did you mean "denyattach"\? \S+kspawn\.config\.mjs has the variants denyattach, broken, other\n$/],
    [['logs'], 'name the variant whose log to show: one of denyattach, broken, other\n'],
    [['logs', 'denyattach', 'biuld'], 'unknown step "biuld" of variant denyattach: did you mean "build"? its runs have the steps fetch-source, build, cluster-up\nSee: kspawn logs --help\n'],
    [['logs', 'other'], 'no run of variant other yet: kspawn run dev-loop --variant other\n'],
    [['logs', 'broken', 'cluster-up'], `no log yet; step cluster-up has not started in run ${id}\n`],
    [['logs', 'denyattach', '--folow'], 'unknown option --folow: did you mean --follow?\nSee: kspawn logs --help\n'],
  ]
  for (const [argv, stderr] of cases) {
    const result = await kspawn(argv)
    assert.is(result.exitCode, 2, argv.join(' '))
    assert.is(result.stdout, '', argv.join(' '))
    if (typeof stderr === 'string') assert.is(result.stderr, stderr, argv.join(' '))
    else assert.match(result.stderr, stderr, argv.join(' '))
  }
})

/**
 * A run that goes on: its state.json says build is running and its lock is
 * held by a live process (a sleep, standing in for kspawn), as a run writes
 * them. Resolves with what the test needs to write the rest of the run.
 */
async function liveRun(suffix: string) {
  const { record } = await firstRun()
  const id = `29991231T235959Z-dev-loop-${suffix}`
  const runDir = path.join(workdir, 'runs', id)
  await mkdir(path.join(runDir, 'denyattach'), { recursive: true })
  const variant = record.variants.find((candidate) => candidate.name === 'denyattach')!
  const running: RunRecord = {
    ...record,
    id,
    status: 'running',
    endedAt: undefined,
    exitCode: undefined,
    variants: [{ ...variant, status: 'running', stoppedAt: undefined, tasks: [{ id: 'fetch-source', status: 'done' }, { id: 'build', status: 'running' }, { id: 'cluster-up', status: 'not-run' }] }],
  }
  const writeState = (record: RunRecord) => writeFile(path.join(runDir, 'state.json'), JSON.stringify(record))
  await writeState(running)
  const holder = spawn('sleep', ['300'], { stdio: 'ignore' })
  await once(holder, 'spawn')
  const lock: LockRecord = { pid: holder.pid!, command: 'kspawn run dev-loop', since: new Date().toISOString(), run: id, runDir, commands: [] }
  await mkdir(path.join(workdir, 'locks'), { recursive: true })
  await writeFile(path.join(workdir, 'locks', 'denyattach.json'), JSON.stringify(lock))
  const log = path.join(runDir, 'denyattach', 'build.log')
  await writeFile(log, '$ build/run.sh make\n# cwd: /k8s\n')
  const stepEnds = async () => {
    const build = running.variants[0]!.tasks[1]!
    Object.assign(build, { status: 'done', durationMs: 5 })
    await writeState(running)
  }
  const cleanup = async (child: ChildProcess = holder) => {
    child.kill()
    await rm(path.join(workdir, 'locks', 'denyattach.json'), { force: true })
    await rm(runDir, { recursive: true, force: true })
  }
  return { id, log, holder, stepEnds, cleanup }
}

/** Waits, without a deadline of its own (the test runner has one), until the condition holds. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(20)
}

test('--follow prints the lines appended while the run is alive, and ends when the step ends', async () => {
  const run = await liveRun('a')
  try {
    const stdout = capture()
    const stderr = capture()
    let ended = false
    const following = kspawn(['logs', 'denyattach', '--follow'], { stdout, stderr }).then((result) => {
      ended = true
      return result
    })
    await until(() => stdout.text() === '$ build/run.sh make\n# cwd: /k8s\n')
    assert.is(stderr.text(), `build (denyattach), run ${run.id}, running: ${run.log}\n`)
    await appendFile(run.log, 'compiling kubelet\n')
    await until(() => stdout.text().endsWith('compiling kubelet\n'))
    // Half a line waits for its end while the step goes on.
    await appendFile(run.log, 'compiling kube')
    await appendFile(run.log, 'adm\n')
    await until(() => stdout.text().endsWith('compiling kubeadm\n'))
    assert.not.ok(ended, 'still following while the step runs')
    await appendFile(run.log, '# exited with code 0')
    await run.stepEnds()
    const result = await following
    assert.is(result.exitCode, 0)
    assert.is(stdout.text(), await readFile(run.log, 'utf8'), 'everything, as written, the last line too')
  } finally {
    await run.cleanup()
  }
})

test('--follow ends when the run ends without settling (its lock holder is gone), and at Ctrl-C with exit 0', async () => {
  const run = await liveRun('b')
  try {
    const stdout = capture()
    const following = kspawn(['logs', 'denyattach', 'build', '--follow'], { stdout })
    await until(() => stdout.text().includes('# cwd: /k8s\n'))
    await appendFile(run.log, 'killed soon\n')
    await until(() => stdout.text().endsWith('killed soon\n'))
    run.holder.kill('SIGKILL')
    await once(run.holder, 'exit')
    assert.is((await following).exitCode, 0)
    assert.is(stdout.text(), await readFile(run.log, 'utf8'))
  } finally {
    await run.cleanup()
  }

  const again = await liveRun('c')
  try {
    const stdout = capture()
    const ctrlC = new AbortController()
    const following = kspawn(['logs', 'denyattach', '--follow'], { stdout, interrupts: () => ({ signal: ctrlC.signal, force: new AbortController().signal, dispose() {} }) })
    await until(() => stdout.text().includes('# cwd: /k8s\n'))
    ctrlC.abort('SIGINT')
    assert.is((await following).exitCode, 0)
  } finally {
    await again.cleanup()
  }
})

test('a run that is not alive is not followed: the log is printed and kspawn ends', async () => {
  const again = await liveRun('d')
  try {
    // The lock names another run: this one is gone, though its state.json still says running.
    const lockPath = path.join(workdir, 'locks', 'denyattach.json')
    const lock = JSON.parse(await readFile(lockPath, 'utf8')) as LockRecord
    await writeFile(lockPath, JSON.stringify({ ...lock, run: 'another' }))
    const { exitCode, stdout, stderr } = await kspawn(['logs', 'denyattach', '--follow'])
    assert.is(exitCode, 0)
    assert.is(stdout, await readFile(again.log, 'utf8'))
    assert.is(stderr, `build (denyattach), run ${again.id}, running when its run ended without settling it: ${again.log}\n`)
  } finally {
    await again.cleanup()
  }
})

test.run()
