// Ctrl-C typed on a terminal during `kspawn run dev-loop` in the test world:
// kspawn runs on a pseudo-terminal, as in a user's shell, so that its output
// is the animated list in colour and Ctrl-C is a key that the terminal turns
// into SIGINT for kspawn's process group. What is checked is what the
// terminal received (escape sequences removed), the exit status, state.json,
// and what is left in the world (processes in /proc, the cluster as the
// stand-ins see it); the resume command kspawn prints is run as pasted.
import { readdir, readFile, rm } from 'node:fs/promises'
import { constants } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { livingInSession, livingMembers, processGroupOf } from '../engine/runner-helpers.ts'
import { world } from '../world/harness.ts'
import {
  clusterLeft,
  denyAttachProject,
  fileHolds,
  kspawn,
  kspawnOnPath,
  lastEvent,
  newRun,
  nothingLeft,
  paste,
  processesWith,
  removeDenyAttachProject,
  runFolders,
  startKspawnOnTerminal,
  stateOf,
  type OnTerminal,
} from './project.ts'

const test = suite('Ctrl-C on a terminal')

const CTRL_C = '\x03'
let home: string
let config: string
const workdir = () => join(home, 'work')
const kubeSpawnDir = () => world().KSPAWN_WORLD_KUBE_SPAWN_DIR
const names = { alpha: { cluster: 'ttyalpha', tag: 'v1.8.5-beta.0-tty-alpha' }, fix: { cluster: 'ttyfix', tag: 'v1.8.5-beta.0-tty-fix' } }
const alpha = names.alpha.cluster

test.before(async () => {
  const project = await denyAttachProject('kspawn-terminal-', names)
  home = project.home
  config = project.config
})

test.after(async () => {
  await removeDenyAttachProject(names)
  await rm(home, { recursive: true, force: true })
})

const terminals: OnTerminal[] = []
/** kspawn on a terminal, closed after the test if it still runs then. */
function onTerminal(args: string[], env: Record<string, string> = {}): OnTerminal {
  const terminal = startKspawnOnTerminal(home, args, env)
  terminals.push(terminal)
  return terminal
}

test.after.each(async () => {
  for (const terminal of terminals.splice(0)) await terminal.close()
})

/** The pid of the live process whose argv is exactly `argv`, once there is one; fails if kspawn ends first. */
async function processRunning(argv: string[], terminal: OnTerminal): Promise<number> {
  const wanted = `${argv.join('\0')}\0`
  let ended = false
  void terminal.exited.then(() => (ended = true))
  for (let i = 0; i < 1200 && !ended; i++) {
    for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
      if ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) === wanted) return Number(pid)
    }
    await sleep(50)
  }
  throw new Error(`no process ran ${argv.join(' ')}:\n${terminal.output().slice(-3000)}`)
}

/** Whether `signal` is pending for the process (sent, not yet delivered: it is stopped). */
async function pending(pid: number, signal: NodeJS.Signals): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const mask = (name: string) => BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'}`)
  return ((mask('ShdPnd') | mask('SigPnd')) & (1n << BigInt(constants.signals[signal] - 1))) !== 0n
}


/**
 * Starts dev-loop for fix on a terminal with a build that sleeps `seconds` in
 * a child process, as a compiler runs; resolves once that sleep runs.
 */
async function startLongBuild(seconds: string) {
  const before = await runFolders(workdir())
  const terminal = onTerminal(['run', 'dev-loop', '--config', config, '--variant', 'fix'], { KSPAWN_WORLD_BUILD_SLEEP: seconds })
  const run = await newRun(workdir(), before)
  await Promise.race([fileHolds(join(run, 'fix', 'build.log'), 'Building go targets for'), terminal.exited])
  const group = await processGroupOf(await processRunning(['sleep', seconds], terminal))
  const session = await terminal.session()
  assert.match(await readFile(`/proc/${session}/cmdline`, 'utf8'), 'bin/kspawn.ts\0run\0dev-loop', 'kspawn leads the terminal session')
  return { terminal, run, group, session }
}

/** What state.json and events.jsonl say of a run of fix interrupted by one SIGINT during its build. */
async function assertBuildInterrupted(run: string) {
  const state = await stateOf(run)
  assert.equal(
    { status: state.status, exitCode: state.exitCode, interruptedBy: state.interruptedBy, ended: typeof state.endedAt },
    { status: 'interrupted', exitCode: 130, interruptedBy: 'SIGINT', ended: 'string' },
  )
  const fix = state.variants.find((variant) => variant.name === 'fix')
  assert.equal({ status: fix?.status, stoppedAt: fix?.stoppedAt }, { status: 'interrupted', stoppedAt: 'build' })
  assert.equal(fix?.tasks.map((task) => `${task.id}:${task.status}`), ['fetch-source:done', 'build:interrupted', 'image:not-run', 'use-image:not-run', 'cluster-up:not-run', 'smoke-test:not-run'])
  const end = await lastEvent(run)
  assert.equal([end.kind, end.exitCode, end.interruptedBy], ['run-end', 130, 'SIGINT'])
  // A later run of the variant is not refused: the run let go of its lock.
  assert.equal(await readdir(join(workdir(), 'locks')).catch(() => []), [])
  return state
}

const stoppedDuringBuild = '\ndev-loop was interrupted by SIGINT\n  ■ fix stopped during build (done: fetch-source; not run: image, use-image, cluster-up, smoke-test)\n'

test('Ctrl-C during the build: the build is stopped, the terminal shows where the run stopped, state.json says so, exit 130', async () => {
  const seconds = String(86_000 + Math.floor(Math.random() * 400))
  const { terminal, run, group, session } = await startLongBuild(seconds)

  terminal.type(CTRL_C)
  const code = await terminal.exited
  const output = terminal.output()

  assert.is(code, 130, output.slice(-4000))
  assert.match(output, stoppedDuringBuild)
  assert.match(output, `      build (fix) was interrupted by SIGINT while running: build/run.sh make\n        full log: ${join(run, 'fix', 'build.log')}\n`)
  assert.match(output, `To continue where it stopped: kspawn run dev-loop --config ${config} --variant fix --resume\n`)
  assert.match(output, `Run folder: ${run}\n`)
  assert.not.match(output, 'killed at once')
  await assertBuildInterrupted(run)
  assert.equal(await livingMembers(group), [], 'nothing of the build is left')
  assert.equal(await processesWith(`sleep ${seconds}`), [])
  assert.equal(await livingInSession(session), [], 'nothing is left on the terminal')
})

test('Ctrl-C twice, the second before the build has stopped: it is killed at once, and the terminal still shows where the run stopped, state.json too', async () => {
  const seconds = String(86_400 + Math.floor(Math.random() * 400))
  const { terminal, run, group, session } = await startLongBuild(seconds)
  // Every process of the build is stopped, so that none can end on the SIGTERM the first Ctrl-C has kspawn send: the build hangs.
  const members = await livingMembers(group)
  assert.ok(members.length >= 2, 'the build runs')
  for (const pid of members) process.kill(pid, 'SIGSTOP')
  // The build's sleep takes SIGTERM's default action: stopped, it keeps the signal pending.
  const first = await processRunning(['sleep', seconds], terminal)

  terminal.type(CTRL_C)
  // Typed once kspawn has acted on the first: the SIGTERM it sent to the build waits on the stopped processes.
  for (let i = 0; i < 600 && !(await pending(first, 'SIGTERM')); i++) await sleep(50)
  assert.ok(await pending(first, 'SIGTERM'), `kspawn sent SIGTERM to the build:\n${terminal.output().slice(-3000)}`)
  terminal.type(CTRL_C)
  const code = await terminal.exited
  const output = terminal.output()

  assert.is(code, 130, output.slice(-4000))
  const again = output.indexOf('\nSIGINT again: not waiting for the commands to stop: killing them and exiting\n')
  assert.ok(again >= 0, `the terminal shows why kspawn did not wait:\n${output.slice(-3000)}`)
  const summary = output.indexOf(stoppedDuringBuild)
  assert.ok(summary > again, `the terminal shows the summary, after the list and the reason:\n${output.slice(-3000)}`)
  assert.match(output.slice(summary), `      build (fix) was interrupted by SIGINT while running: build/run.sh make\n        killed at once (SIGKILL) after SIGINT\n`)
  assert.match(output.slice(summary), `To continue where it stopped: kspawn run dev-loop --config ${config} --variant fix --resume\nRun folder: ${run}\n`)

  const state = await assertBuildInterrupted(run)
  assert.is(state.variants[0]?.tasks.find((task) => task.id === 'build')?.message, 'build (fix) was interrupted by SIGINT while running: build/run.sh make\n  killed at once (SIGKILL) after SIGINT')
  assert.equal(await livingMembers(group), [], 'nothing of the build is left, its stopped processes included')
  assert.equal(await processesWith(`sleep ${seconds}`), [])
  assert.equal(await livingInSession(session), [], 'nothing is left on the terminal')
})

test('Ctrl-C while kube-spawn starts the machines: the half-made cluster is removed, and the resume command the terminal shows works when pasted', async () => {
  const before = await runFolders(workdir())
  const terminal = onTerminal(['run', 'dev-loop', '--config', config, '--variant', 'alpha'])
  const run = await newRun(workdir(), before)
  await Promise.race([fileHolds(join(run, 'alpha', 'cluster-up.log'), `machine "kubespawn${alpha}0" started`), terminal.exited])
  const session = await terminal.session()
  terminal.type(CTRL_C)
  const code = await terminal.exited
  const output = terminal.output()

  assert.is(code, 130, output.slice(-4000))
  assert.match(output, '\ndev-loop was interrupted by SIGINT\n  ■ alpha stopped during cluster-up (done: fetch-source, build, image, use-image; not run: smoke-test)\n')
  assert.match(output, `      cluster-up (alpha) was interrupted by SIGINT while running: kube-spawn -d ${kubeSpawnDir()} start -c ${alpha}\n`)
  assert.not.match(output, 'left half made')
  const state = await stateOf(run)
  assert.equal({ status: state.status, exitCode: state.exitCode, interruptedBy: state.interruptedBy }, { status: 'interrupted', exitCode: 130, interruptedBy: 'SIGINT' })
  assert.equal(await processesWith(`start -c ${alpha}`), [])
  assert.equal(await livingInSession(session), [], 'nothing is left on the terminal')
  assert.equal(await clusterLeft(alpha, workdir()), nothingLeft)

  const lead = 'To continue where it stopped: '
  const resume = output.split('\n').find((line) => line.startsWith(lead))?.slice(lead.length)
  assert.is(resume, `kspawn run dev-loop --config ${config} --variant alpha --resume`)
  try {
    const resumed = await paste(resume ?? '', home, await kspawnOnPath(join(home, 'bin')))
    assert.is(resumed.exitCode, 0, resumed.output.slice(-4000))
    assert.match(resumed.stdout, '  ✔ alpha passed\n')
    assert.equal((await clusterLeft(alpha, workdir())).machines, [`kubespawn${alpha}0`, `kubespawn${alpha}1`])
  } finally {
    const down = await kspawn(home, ['down', alpha])
    assert.is(down.exitCode, 0, down.output)
  }
  assert.equal(await clusterLeft(alpha, workdir()), nothingLeft)
})

test.run()
