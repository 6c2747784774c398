// Where a cluster's kubeadm and kubelet come from: an image variant borrows
// the build of the config's first variant built from source, and waits for it
// while the same run is building it.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { StepError } from '../../engine/errors.ts'
import { STATE_FILE } from '../../engine/run/run-dir.ts'
import { variantWorktree } from '../../engine/run/variant-state.ts'
import { ARTIFACTS, BUILD_OUTPUT } from '../../plugins/kube-spawn/build.ts'
import { kubernetesBuildFor } from '../../plugins/kube-spawn/kubernetes-build.ts'
import { openStep } from '../../engine/run/step-io.ts'
import { branches, configFor, inWorld, playground, runOf, theWorld, type Playground } from './support.ts'

const test = suite('kubernetes-build')
inWorld(test)

let place: Playground
test.before(async () => {
  place = await playground()
})
test.after(() => place.remove())

const config = () =>
  configFor(place, {
    denyattach: { source: { remote: theWorld().KSPAWN_WORLD_FORK, branch: branches.denyattach }, tag: 'v1.8.5-beta.0-kb' },
    external: { image: 'registry.example/kinvolk/hyperkube-amd64:v1.8.5-beta.0-kbfix' },
  })

/** What a finished build of the donor leaves: the artifacts and build's stamp. */
async function finishBuild(worktree: string): Promise<void> {
  await mkdir(path.join(worktree, BUILD_OUTPUT), { recursive: true })
  for (const name of ARTIFACTS) await writeFile(path.join(worktree, BUILD_OUTPUT, name), '#!/bin/sh\n')
  const stamp = { commit: 'c'.repeat(40), tree: 'clean', flags: 'f', gitVersion: 'v1.8.5-beta.0.1+c117bd71672b2d', builtAt: new Date().toISOString() }
  await writeFile(path.join(worktree, '_output', 'kspawn-build.json'), JSON.stringify(stamp))
}

async function writeRecord(dir: string, donor: { status: string; build: string }): Promise<void> {
  await mkdir(dir, { recursive: true })
  const variants = [{ name: 'denyattach', status: donor.status, tasks: [{ id: 'build', status: donor.build }], state: {} }]
  await writeFile(path.join(dir, STATE_FILE), JSON.stringify({ version: 1, variants }))
}

test('an image variant whose donor is not built and not in the run fails at once, saying what to do', async () => {
  const run = runOf(config(), 'external', { root: place.root })
  const error = await kubernetesBuildFor(run.ctx, openStep('cluster-up', run.ctx, run.services)).catch((caught: unknown) => caught)
  assert.instance(error, StepError)
  assert.match((error as Error).message, 'its machines get kubelet and kubeadm from the build of variant denyattach, which has no finished build and is not part of this run: build it first (kspawn task build --variant denyattach)')
})

test('it fails when the donor stops in the same run without a build', async () => {
  const run = runOf(config(), 'external', { root: place.root })
  await writeRecord(run.ctx.run.dir, { status: 'failed', build: 'failed' })
  const error = await kubernetesBuildFor(run.ctx, openStep('cluster-up', run.ctx, run.services)).catch((caught: unknown) => caught)
  assert.instance(error, StepError)
  assert.match((error as Error).message, 'which stopped in this run without a finished build')
})

test('it waits for the donor that the same run is building, then takes its kubeadm and kubelet', async () => {
  const cfg = config()
  const run = runOf(cfg, 'external', { root: place.root })
  await writeRecord(run.ctx.run.dir, { status: 'running', build: 'running' })
  const worktree = variantWorktree(cfg, cfg.variants[0]!)
  const waiting = kubernetesBuildFor(run.ctx, openStep('cluster-up', run.ctx, run.services))
  setTimeout(() => void finishBuild(worktree), 500)
  const build = await waiting
  assert.equal(build, { gopath: path.join(cfg.workdir, 'worktrees', 'denyattach'), dir: path.join(worktree, BUILD_OUTPUT), gitVersion: 'v1.8.5-beta.0.1+c117bd71672b2d', from: 'variant denyattach' })
  assert.ok(run.messages('info').includes('waiting for variant denyattach to finish its build: its kubelet and kubeadm go into cluster external'))
})

test.run()
