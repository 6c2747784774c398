// Two runs of one variant at once, and a run killed outright (kill -9):
// the second run is refused at once, read-only commands are not, and the run
// after the killed one stops what it left running, settles its record and
// carries on. What is asserted is what a user sees: exit codes, messages,
// processes, run records.
import { readdir, readFile, rm } from 'node:fs/promises'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { branches, messages, must, world } from '../world/harness.ts'
import { clusterLeft, fileHolds, kspawn, newRun, nothingLeft, runFolders, startKspawn, summaryOf, writeConfig } from './project.ts'

const test = suite('runs at once, and a run killed outright')

let home: string
let config: string
const workdir = () => join(home, 'work')
const tag = 'v1.8.5-beta.0-cr-solo'

/** The pids of `sleep <seconds>` processes. */
async function sleeping(seconds: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name))
  const found = await Promise.all(pids.map(async (pid) => ((await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')) === `sleep\0${seconds}\0` ? Number(pid) : 0)))
  return found.filter(Boolean)
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-concurrent-'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: workdir(),
    variants: [`solo: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: 'crsolo' }`],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
})

test.after(async () => {
  await kspawn(home, ['down', 'crsolo', '--force', '--config', config])
  await rm(home, { recursive: true, force: true })
})

test('a second run of a variant is refused at once naming the first, read-only commands go on; after kill -9 the next run stops the orphaned build and carries on', async () => {
  const seconds = String(86_000 + Math.floor(Math.random() * 400))
  const before = await runFolders(workdir())
  const first = startKspawn(home, ['run', 'dev-loop', '--config', config], { KSPAWN_WORLD_BUILD_SLEEP: seconds })
  const firstRun = await newRun(workdir(), before)
  let orphans: number[] = []
  for (let i = 0; i < 6000 && orphans.length === 0; i++) {
    orphans = await sleeping(seconds)
    if (orphans.length === 0) await Promise.race([sleep(50), first.exited])
  }
  assert.is(orphans.length, 1, `the first run's build sleeps:\n${first.output().slice(-3000)}`)

  // The second run: refused before it writes anything.
  const second = await kspawn(home, ['run', 'dev-loop', '--config', config])
  assert.is(second.exitCode, 2, second.output)
  assert.match(
    second.stderr,
    new RegExp(`^variant solo is in use by another kspawn run: pid ${first.pid}, \`kspawn run dev-loop --config ${config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`, since \\S+ \\(\\d+s ago\\), run ${firstRun.split('/').at(-1)}; wait for it to end, or stop it with Ctrl-C in its terminal \\(or: kill -INT ${first.pid}\\)\\.`),
  )
  assert.equal(await runFolders(workdir()), [firstRun], 'the refused run made no run folder')
  for (const argv of [['list'], ['clusters'], ['run', 'dev-loop', '--dry-run'], ['doctor']]) {
    const reading = await kspawn(home, [...argv, '--config', config])
    assert.is(reading.exitCode, 0, `kspawn ${argv.join(' ')}: ${reading.output.slice(-2000)}`)
  }

  // Killed outright: its build goes on, an orphan, and its record says "running".
  process.kill(first.pid, 'SIGKILL')
  await first.exited
  assert.equal(await sleeping(seconds), orphans, 'the build outlives the killed run')
  const dead = JSON.parse(await readFile(join(firstRun, 'state.json'), 'utf8')) as RunRecord
  assert.is(dead.status, 'running')

  // The next run stops the orphan before it builds in the same worktree, settles the record, and passes.
  const next = await kspawn(home, ['run', 'dev-loop', '--config', config, '--resume'])
  assert.is(next.exitCode, 0, next.output.slice(-5000))
  assert.match(
    next.output,
    `warning: run ${firstRun.split('/').at(-1)} (pid ${first.pid}, kspawn run dev-loop --config ${config}, since `,
  )
  assert.match(next.output, /is gone without ending: its lock is taken over; stopped what it left running: build\/run\.sh make \(process group \d+\); \S+state\.json now says it was interrupted\n/)
  assert.equal(await sleeping(seconds), [], 'the orphaned build is stopped')
  const settled = JSON.parse(await readFile(join(firstRun, 'state.json'), 'utf8')) as RunRecord
  assert.equal([settled.status, settled.exitCode], ['interrupted', 130])
  assert.match(settled.interruptedBy ?? '', new RegExp(`^the end of its process \\(pid ${first.pid} was gone at `))
  assert.equal(settled.variants[0]?.tasks.map((task) => `${task.id}:${task.status}`), ['fetch-source:done', 'build:interrupted', 'image:not-run', 'use-image:not-run', 'cluster-up:not-run', 'smoke-test:not-run'])
  assert.match(next.stdout, /Fetch branch \S+ into a worktree \(solo\) \[SKIPPED: done in run \S+\]\n/)
  assert.match(next.stdout, '  ✔ solo passed\n')

  const down = await kspawn(home, ['down', 'crsolo', '--config', config])
  assert.is(down.exitCode, 0, down.output)
  assert.equal(await clusterLeft('crsolo', workdir()), nothingLeft)
  assert.equal(await readdir(join(workdir(), 'locks')), [], 'no lock is left')
})

test('kspawn down of a cluster a run is smoke-testing is refused naming the run; with --force it warns and removes it, and the run says the cluster is gone, not up', async () => {
  const before = await runFolders(workdir())
  // The smoke pod's image takes long to pull: the run is in its smoke test while the second terminal acts.
  const running = startKspawn(home, ['run', 'dev-loop', '--config', config, '--recreate'], { KSPAWN_WORLD_IMAGE_PULL_SECONDS: '30' })
  const run = await newRun(workdir(), before)
  await Promise.race([fileHolds(join(run, 'solo', 'smoke-test.log'), '$ kubectl wait --for=condition=Ready pod/kspawn-smoke-'), running.exited])

  const refused = await kspawn(home, ['down', 'crsolo', '--config', config])
  assert.is(refused.exitCode, 1, refused.output)
  assert.match(refused.stderr, `cluster crsolo is in use by a running kspawn run of variant solo (pid ${running.pid}, \`kspawn run dev-loop --config ${config} --recreate\`, run ${run.split('/').at(-1)}): left alone; stop that run first, or rerun with --force to remove it anyway\n`)
  assert.equal((await clusterLeft('crsolo', workdir())).machines, ['kubespawncrsolo0', 'kubespawncrsolo1'])

  const forced = await kspawn(home, ['down', 'crsolo', '--force', '--config', config])
  assert.is(forced.exitCode, 0, forced.output)
  assert.match(forced.stderr, `warning: cluster crsolo is in use by a running kspawn run of variant solo (pid ${running.pid}, `)
  assert.match(forced.stdout, 'removed cluster crsolo\n')
  assert.equal(await clusterLeft('crsolo', workdir()), nothingLeft)

  const code = await running.exited
  const output = running.output()
  assert.is(code, 1, output.slice(-4000))
  const summary = summaryOf(output, 'solo')
  assert.match(summary, /^  ✖ solo failed at smoke-test\n/, output.slice(-4000))
  // kspawn down removed its record too: nothing to forget, so no command is given.
  assert.match(summary, '\n      cluster crsolo is gone now, though the run brought it up: it was removed or stopped while the run went on', summary)
  assert.not.match(summary, 'export KUBECONFIG=', 'no kubeconfig line for a cluster that is gone')
  assert.not.match(summary, 'the cluster stays up')
  const state = JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
  assert.is(state.variants[0]?.state.kubeconfig, undefined)
})

test.run()
