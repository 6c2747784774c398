// The reliability matrix: `kspawn run dev-loop` stopped in each step of the
// dev loop (fetch-source, build, image, cluster-up, smoke-test) by one Ctrl-C
// (SIGINT), by two (the second while kspawn handles the first) and by kill -9.
// Each case checks what a user would: the exit status; no process of the run
// left alive (after kill -9: the orphans are found and stopped by the next
// run, which says so); no machine, container or pod left that the output does
// not name; a state.json that ends in a final status (after kill -9: once the
// next run has recognised the dead one); and every follow-up command the
// output gives, pasted into bash as printed, succeeding. After kill -9 kspawn
// prints nothing, so the follow-up is what a user types: the run with --resume.
//
// Each case has a variant of its own (fresh worktree, image and cluster), and
// a knob of the test world that makes its step last: a git post-checkout hook
// in the checkout (fetch-source), KSPAWN_WORLD_BUILD_SLEEP (build),
// KSPAWN_WORLD_IMAGE_SLEEP (image), kube-spawn start itself (cluster-up) and
// KSPAWN_WORLD_IMAGE_PULL_SECONDS, a slow image pull for the smoke pod.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import type { LockRecord } from '../../engine/run/run-lock.ts'
import { livingMembers } from '../engine/runner-helpers.ts'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world } from '../world/harness.ts'
import { clusterLeft, fileHolds, kspawnOnPath, newRun, nothingLeft, paste, processesWith, runFolders, startKspawn, writeConfig, type Running } from './project.ts'

const test = suite('reliability: each step of the dev loop × SIGINT, two SIGINTs, kill -9')

const STEPS = ['fetch-source', 'build', 'image', 'cluster-up', 'smoke-test'] as const
const WAYS = ['SIGINT', 'SIGINT twice', 'SIGKILL'] as const
type Step = (typeof STEPS)[number]
type Way = (typeof WAYS)[number]

// Cluster names end in a letter (kube-spawn appends the machine's index): rab is the fetch-source × two SIGINTs case.
const variantOf = (step: Step, way: Way) => `r${'abcde'[STEPS.indexOf(step)]}${'abc'[WAYS.indexOf(way)]}`
const tagOf = (variant: string) => `v1.8.5-beta.0-${variant}`
const ALL_STEPS = ['fetch-source', 'build', 'image', 'use-image', 'cluster-up', 'smoke-test']

let home: string
let checkout: string
let config: string
let bin: string
const workdir = () => join(home, 'work')
/** What the cases found, for the figures printed at the end. */
const figures = { cases: 0, hintsPasted: 0, hintsFailed: 0, commandsOrphanedByKill: 0 }

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-reliability-'))
  checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  // A user's own hook, as git runs it when kspawn adds a worktree: slow when the test says so.
  const hook = join(checkout, '.git', 'hooks', 'post-checkout')
  await writeFile(hook, '#!/bin/sh\n# The reliability test makes fetch-source last with this.\nif [ -n "$KSPAWN_TEST_HOOK_SLEEP" ]; then exec sleep "$KSPAWN_TEST_HOOK_SLEEP"; fi\n')
  await chmod(hook, 0o755)
  const fork = JSON.stringify(world().KSPAWN_WORLD_FORK)
  const variants = STEPS.flatMap((step) => WAYS.map((way) => variantOf(step, way)))
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: workdir(),
    variants: variants.map((name) => `${name}: { source: { remote: ${fork}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tagOf(name)}', cluster: '${name}' }`),
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
  bin = await kspawnOnPath(join(home, 'bin'))
})

test.after(async () => {
  for (const step of STEPS) {
    for (const way of WAYS) {
      const cluster = variantOf(step, way)
      if ((await clusterLeft(cluster, workdir())).machines.length === 0 && !(await clusterLeft(cluster, workdir())).folder) continue
      await kubeSpawn(['stop', '-c', cluster])
      await kubeSpawn(['destroy', '-c', cluster])
    }
  }
  const images = STEPS.flatMap((step) => WAYS.map((way) => `${HYPERKUBE}:${tagOf(variantOf(step, way))}`))
  await sh(['docker', 'image', 'rm', ...images])
  await rm(home, { recursive: true, force: true })
  console.log(`\n  reliability figures: ${JSON.stringify(figures)}`)
})

/** The pid of the live `sleep <seconds>` process, once there is one. */
async function sleeper(seconds: string, running: Running): Promise<number> {
  for (let i = 0; i < 6000; i++) {
    const found = await pidsOf(`sleep\0${seconds}\0`)
    if (found.length > 0) return found[0]!
    if ((await Promise.race([running.exited.then(() => 'ended'), sleep(50).then(() => '')])) === 'ended') break
  }
  throw new Error(`no \`sleep ${seconds}\` ran:\n${running.output().slice(-3000)}`)
}

async function pidsOf(cmdline: string): Promise<number[]> {
  const pids: number[] = []
  for (const line of (await must(['ps', '-e', '-o', 'pid='])).stdout.split('\n')) {
    const pid = Number(line.trim())
    if (pid && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) === cmdline) pids.push(pid)
  }
  return pids
}

/** What each case sets going, and the moment its step is under way. */
function stallOf(step: Step, seconds: string): { env: Record<string, string>; reached(run: string, variant: string, running: Running): Promise<number | undefined> } {
  const bySleep = (env: Record<string, string>) => ({ env, reached: (_run: string, _variant: string, running: Running) => sleeper(seconds, running) })
  switch (step) {
    case 'fetch-source':
      return bySleep({ KSPAWN_TEST_HOOK_SLEEP: seconds })
    case 'build':
      return bySleep({ KSPAWN_WORLD_BUILD_SLEEP: seconds })
    case 'image':
      return bySleep({ KSPAWN_WORLD_IMAGE_SLEEP: seconds })
    case 'cluster-up':
      return {
        env: {},
        reached: async (run, variant) => {
          await fileHolds(join(run, variant, 'cluster-up.log'), `machine "kubespawn${variant}0" started`)
          return undefined
        },
      }
    case 'smoke-test':
      // The API server reads it when kube-spawn start starts it: the pod's image takes this long to pull.
      return {
        env: { KSPAWN_WORLD_IMAGE_PULL_SECONDS: '15' },
        reached: async (run, variant) => {
          await fileHolds(join(run, variant, 'smoke-test.log'), '$ kubectl wait --for=condition=Ready pod/kspawn-smoke-')
          return undefined
        },
      }
  }
}

async function stateOf(run: string): Promise<RunRecord> {
  return JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
}

/** The process groups of the commands the run has running, once its lock lists them (just after they start). */
async function commandGroups(variant: string, running: Running): Promise<LockRecord['commands']> {
  for (let i = 0; i < 200; i++) {
    const lock = JSON.parse(await readFile(join(workdir(), 'locks', `${variant}.json`), 'utf8')) as LockRecord
    if (lock.commands.length > 0) return lock.commands
    await sleep(25)
  }
  throw new Error(`the lock of variant ${variant} lists no running command:\n${running.output().slice(-3000)}`)
}

async function alive(groups: LockRecord['commands']): Promise<string[]> {
  const living: string[] = []
  for (const group of groups) if ((await livingMembers(group.pgid)).length > 0) living.push(group.commandLine)
  return living
}

/** The line of the output holding `lead`, from there on: the command it gives. */
function hint(output: string, lead: string): string {
  const line = output.split('\n').find((candidate) => candidate.includes(lead))
  assert.ok(line, `the output has no line with ${JSON.stringify(lead)}:\n${output.slice(-4000)}`)
  return line.slice(line.indexOf(lead) + lead.length).trim()
}

/** Runs a command the output gave, as pasted into bash; it must succeed. */
async function pasted(command: string, what: string) {
  figures.hintsPasted++
  const result = await paste(command, home, bin)
  if (result.exitCode !== 0) figures.hintsFailed++
  assert.is(result.exitCode, 0, `${what} (${command}) failed when pasted:\n${result.stdout}${result.stderr}`.slice(-5000))
  return result.stdout + result.stderr
}

/** The smoke pods in a cluster of the world. */
async function podsIn(cluster: string): Promise<string[]> {
  const kubeconfig = join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, cluster, 'kubeconfig')
  const pods = await must(['kubectl', 'get', 'pods', '-o', 'name'], { env: { KUBECONFIG: kubeconfig } })
  return pods.stdout.split('\n').filter(Boolean)
}

// KSPAWN_RELIABILITY_CASES="cluster-up × SIGINT twice,smoke-test × SIGKILL" runs those cases only.
const only = process.env.KSPAWN_RELIABILITY_CASES?.split(',').map((name) => name.trim())
for (const step of STEPS) {
  for (const way of WAYS) {
    if (only && !only.includes(`${step} × ${way}`)) continue
    test(`${step} × ${way}`, async () => {
      figures.cases++
      const variant = variantOf(step, way)
      const seconds = String(80_000 + Math.floor(Math.random() * 5000) + STEPS.indexOf(step) * 10 + WAYS.indexOf(way))
      const stall = stallOf(step, seconds)
      const before = await runFolders(workdir())
      const running = startKspawn(home, ['run', 'dev-loop', '--config', config, '--variant', variant], stall.env)
      const run = await Promise.race([newRun(workdir(), before), running.exited.then((code): string => {
          throw new Error(`kspawn ended (${code}) before its run began:\n${running.output()}`)
        })])
      const sleeping = await stall.reached(run, variant, running)
      const groups = await commandGroups(variant, running)

      if (step === 'cluster-up') {
        // Not up yet, and the run making it is alive: kspawn clusters does not call it running.
        const listed = await pasted(`kspawn clusters --config ${config}`, 'kspawn clusters')
        assert.match(listed, new RegExp(`^  ${variant} +${variant} +kube-spawn +${tagOf(variant).replace(/\./g, '\\.')} +2 +being made\n    being made by run ${run.split('/').at(-1)} \\(pid ${running.pid}, `, 'm'), listed)
        assert.not.match(listed, `KUBECONFIG=${join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, variant, 'kubeconfig')}`)
      }
      if (way === 'SIGKILL') {
        process.kill(running.pid, 'SIGKILL')
        assert.is(await running.exited, null)
        const orphans = await alive(groups)
        const deadState = await stateOf(run)
        assert.is(deadState.status, 'running', 'a run killed with -9 cannot write its end')
        if (step === 'cluster-up') {
          const listed = await pasted(`kspawn clusters --config ${config}`, 'kspawn clusters')
          assert.match(listed, ` half made\n    run ${deadState.id} began it and ended before it was up (interrupted or killed); the next run of variant ${variant} makes it anew, or remove it with: kspawn down ${variant} --config ${config}\n`, listed)
        }

        // kspawn printed nothing: the user runs the variant again, continuing.
        const next = await pasted(`kspawn run dev-loop --config ${config} --variant ${variant} --resume`, 'the run after kill -9')
        figures.commandsOrphanedByKill += orphans.length
        assert.match(next, `warning: run ${deadState.id} (pid ${running.pid}, kspawn run dev-loop --config ${config} --variant ${variant}, since `)
        assert.match(next, `is gone without ending: its lock is taken over`)
        if (sleeping !== undefined) {
          // The step's command lasts until it is stopped: the next run finds it and stops it.
          assert.ok(orphans.length > 0, 'kill -9 of kspawn leaves its commands running')
          assert.match(next, 'stopped what it left running: ')
          for (const orphan of orphans) assert.match(next, orphan)
        } else {
          // kube-spawn start and kubectl wait may end on their own before the next run starts: what it stopped was the dead run's.
          const stopped = [...next.matchAll(/\(process group (\d+)\)/g)].map((match) => Number(match[1]))
          for (const pgid of stopped) assert.ok(groups.some((group) => group.pgid === pgid), `process group ${pgid} was the dead run's: ${JSON.stringify(groups)}`)
        }
        assert.equal(await alive(groups), [], 'what the killed run left running is stopped')
        if (sleeping !== undefined) assert.equal(await pidsOf(`sleep\0${seconds}\0`), [])
        const settled = await stateOf(run)
        assert.equal([settled.status, settled.exitCode], ['interrupted', 130])
        assert.match(String(settled.interruptedBy), `the end of its process (pid ${running.pid} was gone at `)
        const tasks = settled.variants[0]!.tasks
        assert.is(tasks.find((task) => task.id === step)?.status, 'interrupted', JSON.stringify(tasks))
        if (step === 'cluster-up') assert.match(next, `cluster ${variant}, made by run ${deadState.id} for variant ${variant}, was never brought up whole (the run making it ended first): replacing it`)
        if (step === 'smoke-test') assert.match(next, /removing pod kspawn-smoke-[0-9a-f]+, a smoke test's pod that an earlier run left behind/)
        assert.match(next, `  ✔ ${variant} passed\n`)
        await passedAndRemoved(next, variant)
        return
      }

      if (way === 'SIGINT twice' && sleeping !== undefined) {
        // The command is stopped (SIGSTOP), so that kspawn's SIGTERM cannot end it: the second Ctrl-C is what ends the wait.
        process.kill(sleeping, 'SIGSTOP')
      }
      process.kill(running.pid, 'SIGINT')
      if (way === 'SIGINT twice') {
        await running.prints('warning: interrupted by SIGINT: stopping the running commands')
        // During cluster-up and smoke-test the second one comes while the step removes what it made.
        if (step === 'cluster-up') await running.prints(`cluster-up (${variant}): $ kube-spawn -d ${world().KSPAWN_WORLD_KUBE_SPAWN_DIR} stop -c ${variant}`)
        if (step === 'smoke-test') await running.prints(`smoke-test (${variant}): $ kubectl delete pod kspawn-smoke-`)
        process.kill(running.pid, 'SIGINT')
      }
      const code = await running.exited
      const output = running.output()
      assert.is(code, 130, output.slice(-4000))
      assert.match(output, `\ndev-loop was interrupted by SIGINT\n  ■ ${variant} stopped during ${step} (`, output.slice(-4000))
      if (way === 'SIGINT twice') assert.match(output, '\nSIGINT again: not waiting for the commands to stop: killing them and exiting\n')
      assert.equal(await alive(groups), [], `no command of the run is left:\n${output.slice(-3000)}`)
      if (sleeping !== undefined) assert.equal(await pidsOf(`sleep\0${seconds}\0`), [])

      const state = await stateOf(run)
      assert.equal({ status: state.status, exitCode: state.exitCode, interruptedBy: state.interruptedBy }, { status: 'interrupted', exitCode: 130, interruptedBy: 'SIGINT' })
      const tasks = state.variants[0]!.tasks
      const at = ALL_STEPS.indexOf(step)
      assert.equal(
        tasks.filter((task) => task.id !== 'use-image').map((task) => `${task.id}:${task.status}`),
        ALL_STEPS.filter((id) => id !== 'use-image').map((id) => `${id}:${ALL_STEPS.indexOf(id) < at ? 'done' : ALL_STEPS.indexOf(id) === at ? 'interrupted' : 'not-run'}`),
      )

      // What is left: only what the output names, removed with the command it gives.
      if (step === 'cluster-up' && way === 'SIGINT twice') {
        assert.match(output, `cluster ${variant} was not brought up and is left half made; remove it with: kspawn down ${variant} --config ${config}\n`, output.slice(-4000))
        assert.ok((await clusterLeft(variant, workdir())).record, 'kspawn still records the half-made cluster')
        await pasted(hint(output, 'remove it with: '), 'the removal of the half-made cluster')
        assert.equal(await clusterLeft(variant, workdir()), nothingLeft)
      } else if (step === 'smoke-test') {
        assert.match(output, `the cluster stays up; remove it with: kspawn down ${variant} --config ${config}\n`, output.slice(-4000))
        if (way === 'SIGINT twice') {
          // The second Ctrl-C came while the pod was being removed (its image pull holds the removal up): the pod is named, with the command that removes it.
          const [pod] = await podsIn(variant)
          assert.ok(pod, `the pod whose removal was cut short is there:\n${output.slice(-3000)}`)
          const name = pod.replace(/^pod\//, '')
          const line = output.split('\n').find((candidate) => candidate.startsWith(`      left behind: pod ${name} in cluster ${variant}, `))
          assert.ok(line, `the summary names the pod left behind:\n${output.slice(-3000)}`)
          await pasted(hint(line, 'remove it with: '), "the removal of the smoke test's pod")
        }
        assert.equal(await podsIn(variant), [], 'no smoke pod is left')
      } else {
        assert.equal(await clusterLeft(variant, workdir()), nothingLeft)
      }
      if (step !== 'cluster-up' || way === 'SIGINT') assert.not.match(output, 'left half made')

      const resumed = await pasted(hint(output, 'To continue where it stopped: '), 'the resume command')
      assert.match(resumed, `  ✔ ${variant} passed\n`)
      if (step !== 'fetch-source') assert.match(resumed, `[SKIPPED: done in run ${state.id}]`)
      await passedAndRemoved(resumed, variant)
    })
  }
}

/** After a passing run: no smoke pod in the cluster, and the printed `kspawn down` removes everything. */
async function passedAndRemoved(output: string, variant: string) {
  assert.equal(await podsIn(variant), [], 'the smoke pods are gone')
  assert.equal((await clusterLeft(variant, workdir())).machines, [`kubespawn${variant}0`, `kubespawn${variant}1`])
  await pasted(hint(output, 'the cluster stays up; remove it with: '), 'the removal of the cluster')
  assert.equal(await clusterLeft(variant, workdir()), nothingLeft)
  assert.equal(await processesWith(`-c ${variant}`), [], 'no kube-spawn command of the case runs')
}

test.run()
