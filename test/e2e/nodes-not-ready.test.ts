// A cluster whose nodes do not turn Ready within the deployer's readySeconds,
// in the test world: its API server keeps them NotReady
// (KSPAWN_WORLD_NODE_READY_SECONDS far beyond the bound), so the bound decides
// only how long kspawn waits, not whether the test passes. Which step fails,
// what it says, the exit status, and the cluster left up, named with the
// command that removes it.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world } from '../world/harness.ts'
import { clusterLeft, kspawn, nothingLeft, writeConfig } from './project.ts'

const test = suite('nodes not Ready')

let home: string
let config: string
const workdir = () => join(home, 'work')
const tag = 'v1.8.5-beta.0-nr-gamma'
/** Long enough for both machines to register as nodes on a loaded machine, far short of the nodes' readiness. */
const READY_SECONDS = 30

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-not-ready-'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: workdir(),
    variants: [`gamma: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: 'nrgamma' }`],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
    readySeconds: READY_SECONDS,
  })
})

test.after(async () => {
  await kubeSpawn(['stop', '-c', 'nrgamma'])
  await kubeSpawn(['destroy', '-c', 'nrgamma'])
  await sh(['docker', 'image', 'rm', `${HYPERKUBE}:${tag}`])
  await rm(home, { recursive: true, force: true })
})

test('nodes that are not Ready within readySeconds fail the smoke test with what kubectl saw; the cluster stays up and kspawn down removes it', async () => {
  const result = await kspawn(home, ['run', 'dev-loop', '--config', config], { KSPAWN_WORLD_NODE_READY_SECONDS: '100000' })

  assert.is(result.exitCode, 1, result.output.slice(-4000))
  const kubeconfig = join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'nrgamma', 'kubeconfig')
  // kubectl wait gets what is left of readySeconds once every machine has registered as a node.
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  assert.match(
    result.stdout,
    new RegExp(
      [
        '  ✖ gamma failed at smoke-test',
        `      the nodes of cluster nrgamma were not all Ready within ${READY_SECONDS}s; if they need longer, raise the deployer's readySeconds in ${config}`,
        '      (cluster nrgamma: 1 of 1 expectations failed)',
        '      ✖ all nodes of cluster nrgamma are Ready',
        '        seen: $ kubectl wait --for=condition=Ready node --all --timeout=TIMEOUT',
        '              timed out waiting for the condition on nodes/kubespawnnrgamma0',
        '              timed out waiting for the condition on nodes/kubespawnnrgamma1',
        '              $ kubectl get nodes',
        '              NAME                STATUS     ROLES    AGE',
      ]
        .map(escape)
        .join('\n')
        .replace('TIMEOUT', `([1-9]|[1-9]\\d)s`),
    ),
  )
  assert.match(result.stdout, /\n {14}kubespawnnrgamma0 +NotReady +master +\d+s +v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}\n {14}kubespawnnrgamma1 +NotReady +<none> +\d+s +v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}\n/)
  // Nothing was tried on a cluster that is not ready: no pod, no attach.
  assert.not.match(result.stdout, 'kubectl run')
  assert.match(result.stdout, `      export KUBECONFIG=${kubeconfig}\n      the cluster stays up; remove it with: kspawn down nrgamma --config ${config}\n`)

  const runs = join(workdir(), 'runs')
  const [run] = (await must(['ls', runs])).stdout.trim().split('\n')
  const state = JSON.parse(await readFile(join(runs, run ?? '', 'state.json'), 'utf8')) as RunRecord
  assert.equal(
    state.variants[0]?.tasks.map((task) => `${task.id}:${task.status}`),
    ['fetch-source:done', 'build:done', 'image:done', 'use-image:skipped', 'cluster-up:done', 'smoke-test:failed'],
  )
  assert.equal(state.variants[0]?.state.smoke?.map((smoke) => [smoke.expectation, smoke.passed]), [['all nodes of cluster nrgamma are Ready', false]])

  // The cluster is up as the summary says, its nodes NotReady for the real kubectl too.
  const nodes = await must(['kubectl', 'get', 'nodes', '--no-headers'], { env: { KUBECONFIG: kubeconfig, HOME: home } })
  assert.match(nodes.stdout, /^kubespawnnrgamma0 +NotReady /m)
  const left = await clusterLeft('nrgamma', workdir())
  assert.equal(left.machines, ['kubespawnnrgamma0', 'kubespawnnrgamma1'])
  assert.is(left.apiServer.length, 1)

  const down = await kspawn(home, ['down', 'nrgamma'])
  assert.is(down.exitCode, 0, down.output)
  assert.equal(await clusterLeft('nrgamma', workdir()), nothingLeft)
})

test.run()
