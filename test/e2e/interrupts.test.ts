// Ctrl-C and SIGTERM during `kspawn run dev-loop` in the test world, sent to
// the real CLI's process as a terminal or a supervisor sends them: the exit
// status, what is printed, what state.json and events.jsonl record, and what
// is left behind (processes, machines, API servers). What kspawn says is left
// is removed with the command it prints, run here as a user would paste it.
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { livingMembers, processGroupOf } from '../engine/runner-helpers.ts'
import { world } from '../world/harness.ts'
import {
  clusterLeft,
  denyAttachProject,
  fileHolds,
  kspawn,
  lastEvent,
  newRun,
  nothingLeft,
  processesWith,
  removeDenyAttachProject,
  runFolders,
  startKspawn,
  stateOf,
} from './project.ts'

const test = suite('interrupting a run')

let home: string
let config: string
const workdir = () => join(home, 'work')
const kubeSpawnDir = () => world().KSPAWN_WORLD_KUBE_SPAWN_DIR
const names = { alpha: { cluster: 'iralpha', tag: 'v1.8.5-beta.0-ir-alpha' }, fix: { cluster: 'irfix', tag: 'v1.8.5-beta.0-ir-fix' } }

/** The command the output tells to run after `lead`, split as a shell would (kspawn prints plain words here). */
function commandAfter(output: string, lead: string): string[] {
  const line = output.split('\n').find((candidate) => candidate.includes(lead))
  assert.ok(line, `the output has no line with ${JSON.stringify(lead)}:\n${output.slice(-3000)}`)
  return line.slice(line.indexOf(lead) + lead.length).trim().split(/\s+/)
}

/** Runs a command kspawn printed: `kspawn ...` is the CLI from sources, in the user's folder. */
function paste(argv: string[]) {
  assert.is(argv[0], 'kspawn', `a kspawn command: ${argv.join(' ')}`)
  return kspawn(home, argv.slice(1))
}

test.before(async () => {
  const project = await denyAttachProject('kspawn-interrupts-', names)
  home = project.home
  config = project.config
})

test.after(async () => {
  await removeDenyAttachProject(names)
  await rm(home, { recursive: true, force: true })
})

/** Starts dev-loop for alpha and stops it with `signal` once kube-spawn start has booted the master machine. */
async function interruptClusterUp(signal: NodeJS.Signals) {
  const before = await runFolders(workdir())
  const running = startKspawn(home, ['run', 'dev-loop', '--config', config, '--variant', 'alpha'])
  const run = await newRun(workdir(), before)
  await Promise.race([fileHolds(join(run, 'alpha', 'cluster-up.log'), 'machine "kubespawniralpha0" started'), running.exited])
  process.kill(running.pid, signal)
  return { run, code: await running.exited, output: running.output() }
}

test('Ctrl-C while kube-spawn starts the machines: exit 130, and what was made of the cluster is removed before kspawn ends, as it says', async () => {
  const { run, code, output } = await interruptClusterUp('SIGINT')

  assert.is(code, 130, output.slice(-4000))
  assert.match(output, 'warning: interrupted by SIGINT: stopping the running commands\n')
  assert.match(output, 'cluster-up (alpha): removing what the step made before stopping (at most 120s; interrupt again to leave it as it is)\n')
  assert.match(output, `cluster-up (alpha): $ kube-spawn -d ${kubeSpawnDir()} stop -c iralpha\n`)
  assert.match(output, 'cluster-up (alpha): removed what was made of cluster iralpha, so that the next attempt starts clean\n')
  assert.match(output, '\ndev-loop was interrupted by SIGINT\n  ■ alpha stopped during cluster-up (done: fetch-source, build, image, use-image; not run: smoke-test)\n')
  assert.match(output, `      cluster-up (alpha) was interrupted by SIGINT while running: kube-spawn -d ${kubeSpawnDir()} start -c iralpha\n`)
  assert.not.match(output, 'left half made')
  assert.match(output, `To continue where it stopped: kspawn run dev-loop --config ${config} --variant alpha --resume\n`)

  const state = await stateOf(run)
  assert.equal({ status: state.status, exitCode: state.exitCode, interruptedBy: state.interruptedBy }, { status: 'interrupted', exitCode: 130, interruptedBy: 'SIGINT' })
  const alpha = state.variants.find((variant) => variant.name === 'alpha')
  assert.equal(alpha?.tasks.map((task) => `${task.id}:${task.status}`), ['fetch-source:done', 'build:done', 'image:done', 'use-image:skipped', 'cluster-up:interrupted', 'smoke-test:not-run'])
  assert.is(alpha?.state.halfMadeCluster, undefined)
  assert.is(alpha?.state.kubeconfig, undefined)
  const end = await lastEvent(run)
  assert.equal([end.kind, end.exitCode, end.interruptedBy], ['run-end', 130, 'SIGINT'])

  // kube-spawn start is gone with everything it ran, and so are the machines it booted, the cluster's folder and kspawn's record.
  assert.equal(await processesWith('start -c iralpha'), [])
  assert.equal(await clusterLeft('iralpha', workdir()), nothingLeft)
})

test('SIGTERM while kube-spawn starts the machines, then the printed resume command brings the cluster up and the run passes', async () => {
  const { code, output } = await interruptClusterUp('SIGTERM')
  assert.is(code, 130, output.slice(-4000))
  assert.match(output, '\ndev-loop was interrupted by SIGTERM\n')
  assert.match(output, 'cluster-up (alpha): removed what was made of cluster iralpha, so that the next attempt starts clean\n')
  assert.equal(await processesWith('start -c iralpha'), [])
  assert.equal(await clusterLeft('iralpha', workdir()), nothingLeft)

  try {
    const resumed = await paste(commandAfter(output, 'To continue where it stopped: '))
    assert.is(resumed.exitCode, 0, resumed.output.slice(-4000))
    assert.match(resumed.stdout, /Fetch branch \S+ into a worktree \(alpha\) \[SKIPPED: done in run \S+\]\n/)
    assert.not.match(resumed.stdout, '$ build/run.sh make\n', 'the build is not done again')
    assert.match(resumed.stdout, '  ✔ alpha passed\n')
    assert.match(resumed.stdout, `      the cluster stays up; remove it with: kspawn down iralpha --config ${config}\n`)
    assert.equal((await clusterLeft('iralpha', workdir())).machines, ['kubespawniralpha0', 'kubespawniralpha1'])
  } finally {
    const down = await kspawn(home, ['down', 'iralpha'])
    assert.is(down.exitCode, 0, down.output)
  }
  assert.equal(await clusterLeft('iralpha', workdir()), nothingLeft)
})

test('a second signal before the commands have stopped: they are killed at once, where the run stopped is recorded and printed, exit 130', async () => {
  // The build sleeps in its make; that make is stopped (SIGSTOP), so that SIGTERM alone cannot end it.
  const seconds = String(86_000 + Math.floor(Math.random() * 400))
  const before = await runFolders(workdir())
  const running = startKspawn(home, ['run', 'dev-loop', '--config', config, '--variant', 'fix'], { KSPAWN_WORLD_BUILD_SLEEP: seconds })
  const run = await newRun(workdir(), before)
  let sleeping: string[] = []
  for (let i = 0; i < 12_000 && sleeping.length === 0; i++) {
    sleeping = (await readdir('/proc')).filter((pid) => /^\d+$/.test(pid))
    sleeping = (await Promise.all(sleeping.map(async (pid) => ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) === `sleep\0${seconds}\0` ? pid : '')))).filter(Boolean)
    if (sleeping.length === 0) await Promise.race([sleep(50), running.exited])
  }
  assert.is(sleeping.length, 1, `the build's sleep runs:\n${running.output().slice(-3000)}`)
  const group = await processGroupOf(Number(sleeping[0]))
  const members = await livingMembers(group)
  const make = (await Promise.all(members.map(async (pid) => ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'make' ? pid : 0)))).find(Boolean)
  assert.ok(make, 'make runs in the build')
  process.kill(make, 'SIGSTOP')

  // Two different signals, both pending while kspawn is stopped: it handles them one after the other, before anything else.
  process.kill(running.pid, 'SIGSTOP')
  process.kill(running.pid, 'SIGINT')
  process.kill(running.pid, 'SIGTERM')
  process.kill(running.pid, 'SIGCONT')
  const code = await running.exited
  const output = running.output()

  assert.is(code, 130, output.slice(-4000))
  assert.equal(await livingMembers(group), [], 'nothing of the build is left, its stopped make included')
  const state = await stateOf(run)
  const first = state.interruptedBy
  const second = first === 'SIGINT' ? 'SIGTERM' : 'SIGINT'
  assert.ok(first === 'SIGINT' || first === 'SIGTERM', `interrupted by ${first}`)
  assert.match(output, `\n${second} after ${first}: not waiting for the commands to stop: killing them and exiting\n`)
  assert.match(output, `\ndev-loop was interrupted by ${first}\n  ■ fix stopped during build (done: fetch-source; not run: image, use-image, cluster-up, smoke-test)\n`)
  assert.match(output, `      build (fix) was interrupted by ${first} while running: build/run.sh make\n        killed at once (SIGKILL) after ${second}\n`)
  assert.match(output, `Run folder: ${run}\n`)
  assert.not.match(output, 'left half made')

  assert.equal({ status: state.status, exitCode: state.exitCode }, { status: 'interrupted', exitCode: 130 })
  const fix = state.variants.find((variant) => variant.name === 'fix')
  assert.equal(fix?.tasks.map((task) => `${task.id}:${task.status}`), ['fetch-source:done', 'build:interrupted', 'image:not-run', 'use-image:not-run', 'cluster-up:not-run', 'smoke-test:not-run'])
  assert.equal({ status: fix?.status, stoppedAt: fix?.stoppedAt }, { status: 'interrupted', stoppedAt: 'build' })
  const events = (await readFile(join(run, 'events.jsonl'), 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
  assert.equal(
    events.slice(-2).map(({ time: _, ...event }) => event),
    [
      { kind: 'step-interrupted', step: 'build', variant: 'fix', message: `build (fix) was interrupted by ${first} while running: build/run.sh make\n  killed at once (SIGKILL) after ${second}` },
      { kind: 'run-end', run: state.id, exitCode: 130, interruptedBy: first, variants: [{ name: 'fix', status: 'interrupted', stoppedAt: 'build' }] },
    ],
  )
  assert.equal(await clusterLeft('irfix', workdir()), nothingLeft)
})

test.run()
