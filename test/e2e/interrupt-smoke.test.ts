// Ctrl-C during the smoke test: the test's pod is removed before kspawn
// ends, the summary says the step was interrupted while it ran (not that it
// was never started), and the cluster, which the run had brought up, stays.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { must, world } from '../world/harness.ts'
import { clusterLeft, kspawn, newRun, runFolders, startKspawn, writeConfig } from './project.ts'

const test = suite('interrupting the smoke test')

let home: string
let config: string
const workdir = () => join(home, 'work')
const kubeconfig = () => join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'issmoke', 'kubeconfig')

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-interrupt-smoke-'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  // Upstream allows attach: kubectl attach streams the pod's output until the test stops it.
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: workdir(),
    variants: [`up: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_UPSTREAM)}, tag: 'v1.8.5-beta.0' }, tag: 'v1.8.5-beta.0-is-up', cluster: 'issmoke' }`],
    smoke: `[admission.allows('attach')]`,
  })
})

test.after(async () => {
  await kspawn(home, ['down', 'issmoke', '--force', '--config', config])
  await rm(home, { recursive: true, force: true })
})

test('Ctrl-C while kubectl attach streams: the smoke pod is removed, the step is said to be interrupted, the cluster stays', async () => {
  const before = await runFolders(workdir())
  const running = startKspawn(home, ['run', 'dev-loop', '--config', config])
  await running.prints('$ kubectl attach kspawn-smoke-')
  const run = await newRun(workdir(), before)
  const pod = /\$ kubectl attach (kspawn-smoke-[0-9a-f]+)/.exec(running.output())![1]!
  process.kill(running.pid, 'SIGINT')
  const code = await running.exited
  const output = running.output()

  assert.is(code, 130, output.slice(-4000))
  assert.match(output, `$ kubectl delete pod ${pod} --ignore-not-found --grace-period=1\n`)
  assert.match(output, `      smoke-test (up) was interrupted by SIGINT while running: kubectl attach ${pod}\n`)
  assert.not.match(output, 'was not started')
  const pods = await must(['kubectl', 'get', 'pods', '-o', 'name'], { env: { KUBECONFIG: kubeconfig() } })
  assert.not.match(pods.stdout, pod, 'the smoke pod is gone')

  const state = JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
  assert.equal([state.status, state.exitCode], ['interrupted', 130])
  assert.equal(state.variants[0]?.tasks.map((task) => `${task.id}:${task.status}`).slice(-2), ['cluster-up:done', 'smoke-test:interrupted'])
  // The cluster the run brought up stays, as the summary says.
  assert.match(output, 'kspawn down issmoke')
  assert.equal((await clusterLeft('issmoke', workdir())).machines, ['kubespawnissmoke0', 'kubespawnissmoke1'])
})

test.run()
