// build on the world's fixture tree: the real build/run.sh make, in the
// worktree that fetch-source made.
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { Config } from '../../engine/config/config.ts'
import { CommandError, StepError } from '../../engine/errors.ts'
import { ARTIFACTS, build, BUILD_OUTPUT, buildFlagsDigest, parseGitVersion } from '../../plugins/kube-spawn/build.ts'
import { fetchSource } from '../../tasks/fetch-source.ts'
import { branches, configFor, groundwork, inWorld, must, mustPass, playground, runOf, runTask, theWorld, type Playground } from './support.ts'

const test = suite('build')
inWorld(test)

let place: Playground
let config: Config
let worktree: string

test.before(async () => {
  place = await playground()
  const fork = theWorld().KSPAWN_WORLD_FORK
  config = configFor(place, {
    denyattach: { source: { remote: fork, branch: branches.denyattach }, tag: 'v1.8.5-beta.0-denyattach' },
    denyattachfix: { source: { remote: fork, branch: branches.denyattachfix }, tag: 'v1.8.5-beta.0-denyattachfix' },
    external: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix' },
  })
})
test.after(async () => {
  await place?.remove()
})

groundwork(test, 'fetch-source prepares denyattach', async () => {
  const fetched = runOf(config, 'denyattach', { root: place.root })
  mustPass(await runTask(fetchSource, fetched), 'fetch-source')
  worktree = fetched.ctx.state.worktree!
})

const run = (variant = 'denyattach') => runOf(config, variant, { root: place.root })

test('the version line of hack/print-workspace-status.sh, and flags that decide a build', () => {
  assert.is(parseGitVersion('gitCommit abc\ngitTreeState dirty\ngitVersion v1.8.5-beta.0.1+c117bd71672b2d-dirty\ngitMajor 1\n'), 'v1.8.5-beta.0.1+c117bd71672b2d-dirty')
  assert.is(parseGitVersion('STABLE_BUILD_SCM_REVISION v1\n'), undefined)
  const argv = ['build/run.sh', 'make']
  assert.is(buildFlagsDigest(argv, { PATH: '/a', KUBE_VERBOSE: '1' }), buildFlagsDigest(argv, { PATH: '/b', KUBE_VERBOSE: '1' }))
  assert.is.not(buildFlagsDigest(argv, { KUBE_VERBOSE: '1' }), buildFlagsDigest(argv, { KUBE_VERBOSE: '2' }))
  assert.not.match(buildFlagsDigest(argv, { KUBE_TOKEN: 'secret-value' }), 'secret-value')
})

test('builds the artifacts and records the version they were built as', async () => {
  const first = run()
  mustPass(await runTask(build, first), 'build')
  for (const artifact of ARTIFACTS) assert.ok(existsSync(path.join(worktree, BUILD_OUTPUT, artifact)), `${artifact} was built`)
  const version = (await must([path.join(worktree, BUILD_OUTPUT, 'hyperkube'), '--version'])).stdout.trim()
  const commit = first.ctx.state.commit ?? (await must(['git', 'rev-parse', 'HEAD'], { cwd: worktree })).stdout.trim()
  assert.is(version, `Kubernetes ${first.ctx.state.gitVersion}`)
  assert.is(first.ctx.state.gitVersion, `v1.8.5-beta.0.1+${commit.slice(0, 14)}`)
  assert.ok(first.commands().includes('build/run.sh make'))
  assert.match(await readFile(path.join(first.ctx.run.dir, 'denyattach', 'build.log'), 'utf8'), 'Building go targets for linux/amd64')
  assert.ok(first.messages('info').includes(`built ${first.ctx.state.gitVersion} in ${worktree}`))
})

test('the same tree with the same flags is not built again; a change to it is', async () => {
  const again = run()
  const outcome = await runTask(build, again)
  assert.match(outcome.skipped ?? '', /^already built: [0-9a-f]{12} \(clean tree\) with the same flags, gitVersion v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}; remove .*_output\/kspawn-build\.json to build again$/)
  assert.match(again.ctx.state.gitVersion ?? '', /^v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}$/)
  assert.not.ok(again.commands().includes('build/run.sh make'))

  const readme = path.join(worktree, 'README.md')
  const original = await readFile(readme, 'utf8')
  try {
    await writeFile(readme, `${original}local change\n`)
    const changed = run()
    assert.is((await runTask(build, changed)).skipped, undefined)
    assert.match(changed.ctx.state.gitVersion ?? '', /-dirty$/)
    assert.match((await runTask(build, run())).skipped ?? '', '(the same local changes)')
    await writeFile(readme, `${original}another change\n`)
    assert.is((await runTask(build, run())).skipped, undefined)

    process.env.KUBE_BUILD_PLATFORMS = 'linux/amd64'
    assert.is((await runTask(build, run())).skipped, undefined, 'a KUBE_ variable of the build changed')
  } finally {
    delete process.env.KUBE_BUILD_PLATFORMS
    await writeFile(readme, original)
  }
})

test('a failing build stops with the command, its exit code, its last lines and its log', async () => {
  const failing = run()
  process.env.KSPAWN_WORLD_BUILD_FAIL_AT = 'kubelet'
  let outcome
  try {
    outcome = await runTask(build, failing)
  } finally {
    delete process.env.KSPAWN_WORLD_BUILD_FAIL_AT
  }
  assert.instance(outcome.error, CommandError)
  const error = outcome.error as CommandError
  const log = path.join(failing.ctx.run.dir, 'denyattach', 'build.log')
  assert.is(error.failure.commandLine, 'build/run.sh make')
  assert.is(error.failure.exitCode, 2)
  assert.is(error.failure.logFile, log)
  assert.match(error.message, 'build (denyattach) failed: build/run.sh make exited with code 2')
  assert.match(error.message, 'cmd/kubelet/kubelet.go')
  assert.match(error.message, `full log: ${log}`)
  assert.match(await readFile(log, 'utf8'), '# k8s.io/kubernetes/cmd/kubelet')
  assert.is(failing.ctx.state.gitVersion, undefined)
  // Nothing vouches for a half-done build: the next run builds again.
  assert.is((await runTask(build, run())).skipped, undefined)
})

test('an image variant has nothing to build; a build needs its worktree', async () => {
  assert.is((await runTask(build, run('external'))).skipped, 'image variant: it runs docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix, there is nothing to build')
  const { error } = await runTask(build, run('denyattachfix'))
  assert.instance(error, StepError)
  assert.match((error as Error).message, /^the worktree .*worktrees\/denyattachfix\/src\/k8s\.io\/kubernetes does not exist: fetch the source first \(kspawn task fetch-source --variant denyattachfix\)$/)
})

test.run()
