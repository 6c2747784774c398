// The dev loop as a whole, in dry-run: every command that would change
// something is printed, in order, and nothing is made: no remote, worktree,
// build, image or cluster.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { Config } from '../../engine/config/config.ts'
import { runWorkflow } from '../../engine/run/run-workflow.ts'
import { tasksFor } from '../../engine/run/task.ts'
import { devLoop } from '../../workflows/dev-loop.ts'
import { tasks, workflows } from '../../workflows/index.ts'
import { branches, configFor, HYPERKUBE, inWorld, messages, must, playground, runOf, runWorkflowTasks, sh, theWorld, uniqueName, type Playground } from '../tasks/support.ts'
import { admission } from '../../plugins/admission/index.ts'

const test = suite('dev-loop')
inWorld(test)

let place: Playground
let config: Config
const names = { denyattach: uniqueName('da'), upstream: uniqueName('up') }

test.before(async () => {
  place = await playground()
  config = configFor(
    place,
    {
      denyattach: { cluster: names.denyattach, source: { remote: theWorld().KSPAWN_WORLD_FORK, branch: branches.denyattach }, tag: names.denyattach },
      upstream: { cluster: names.upstream, source: { remote: theWorld().KSPAWN_WORLD_UPSTREAM, tag: 'v1.8.5-beta.0' }, tag: names.upstream },
    },
    [admission.denies('attach', { message: messages.denyattach })],
  )
})
test.after(async () => {
  await place.remove()
})

test("the registry has the dev loop and kspawn's own tasks; a kube-spawn variant's loop has kube-spawn's steps in it", async () => {
  assert.equal(workflows.map((workflow) => workflow.id), ['dev-loop', 'share'])
  assert.equal(tasks.map((task) => task.id), ['fetch-source', 'cluster-up', 'smoke-test', 'share-image'])
  assert.equal((await tasksFor(devLoop, config.variants[0]!)).map((task) => task.id), ['fetch-source', 'build', 'image', 'use-image', 'cluster-up', 'smoke-test'])
})

/** What a dry run of one variant prints, with the smoke test's pod name made constant. */
async function expectedCommands(variant: 'denyattach' | 'upstream'): Promise<string[]> {
  const { checkout, workdir } = place
  const fork = theWorld().KSPAWN_WORLD_FORK
  const dir = theWorld().KSPAWN_WORLD_KUBE_SPAWN_DIR
  const worktree = path.join(workdir, 'worktrees', variant, 'src', 'k8s.io', 'kubernetes')
  const cluster = names[variant]
  const fetch =
    variant === 'denyattach'
      ? [
          `git -C ${checkout} remote add kinvolk-kubernetes ${fork}`,
          `git -C ${checkout} fetch --no-tags --no-write-fetch-head kinvolk-kubernetes +refs/heads/${branches.denyattach}:refs/remotes/kinvolk-kubernetes/${branches.denyattach}`,
          `git -C ${checkout} worktree add --detach ${worktree} ${(await must(['git', 'ls-remote', fork, `refs/heads/${branches.denyattach}`])).stdout.split('\t')[0]}`,
        ]
      : // The checkout's origin is that remote already, and has the tag.
        [`git -C ${checkout} worktree add --detach ${worktree} ${(await must(['git', 'rev-parse', 'v1.8.5-beta.0^{commit}'], { cwd: checkout })).stdout.trim()}`]
  return [
    ...fetch,
    'build/run.sh make',
    `make -C cluster/images/hyperkube VERSION=${cluster}`,
    `kube-spawn -d ${dir} create --dev -t ${cluster} -c ${cluster} -n 2`,
    `kube-spawn -d ${dir} start -c ${cluster}`,
    'kubectl wait --for=condition=Ready node --all --timeout=180s',
    'kubectl version -o json',
    'kubectl get pods --selector app.kubernetes.io/created-by=kspawn-smoke-test --output name',
    `kubectl run kspawn-smoke-* --image=busybox --labels=run=kspawn-smoke-*,app.kubernetes.io/created-by=kspawn-smoke-test --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'`,
    'kubectl wait --for=condition=Ready pod/kspawn-smoke-* --timeout=120s',
    'kubectl logs --tail=2 kspawn-smoke-*',
    'kubectl attach kspawn-smoke-*',
    'kubectl delete pod kspawn-smoke-* --ignore-not-found --grace-period=1',
  ]
}

const samePod = (line: string) => line.replace(/kspawn-smoke-[0-9a-f]+/g, 'kspawn-smoke-*')

async function nothingMade(): Promise<void> {
  assert.not.ok(existsSync(place.workdir), 'no worktree, run folder or stamp')
  assert.is((await must(['git', 'remote'], { cwd: place.checkout })).stdout.trim(), 'origin')
  assert.is((await must(['git', 'worktree', 'list', '--porcelain'], { cwd: place.checkout })).stdout.match(/^worktree /gm)?.length, 1)
  for (const name of Object.values(names)) {
    assert.not.ok(existsSync(path.join(theWorld().KSPAWN_WORLD_KUBE_SPAWN_DIR, name)), `no cluster ${name}`)
    assert.is.not((await sh(['docker', 'image', 'inspect', `${HYPERKUBE}:${name}`])).exitCode, 0, `no image ${name}`)
  }
}

test('dry-run prints each variant’s commands in order and makes nothing', async () => {
  for (const variant of ['denyattach', 'upstream'] as const) {
    const run = runOf(config, variant, { root: place.root, dryRun: true })
    const outcome = await runWorkflowTasks(devLoop, run)
    assert.is(outcome.error, undefined, String((outcome.error as Error | undefined)?.message))
    assert.equal(run.printed().map(samePod), await expectedCommands(variant))
  }
  await nothingMade()
})

test('kspawn run dev-loop --dry-run shows the same lines, each starting with "$ "', async () => {
  let out = ''
  const outcome = await runWorkflow({ config, workflow: devLoop, dryRun: true, renderer: 'simple', stdout: { write: (text: string) => (out += text) }, stderr: { write: () => true }, env: {} })
  assert.is(outcome.exitCode, 0, out)
  const printed = out
    .split('\n')
    .filter((line) => line.startsWith('$ '))
    .map((line) => samePod(line.slice(2)))
  assert.equal(printed, [...(await expectedCommands('denyattach')), ...(await expectedCommands('upstream'))])
  await nothingMade()
})

test.run()
