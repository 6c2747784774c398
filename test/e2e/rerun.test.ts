// Resume and rerun as the developer loop needs them: --resume continues the
// latest run (its variants only); a step recorded done whose result is gone
// runs again; a rerun with nothing changed passes on the cluster it already
// has; after a new commit the cluster ends up running the new build.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, messages, must, world } from '../world/harness.ts'
import { clusterLeft, deniedWith, kspawn, nothingLeft, summaryOf, writeConfig } from './project.ts'

const test = suite('resume and rerun')

let home: string
let config: string
let branch: string
let pusher: string
const workdir = () => join(home, 'work')

/** A commit on the test's own branch of the fork, as a developer pushes one. */
async function pushCommit(file: string, text: string): Promise<string> {
  await writeFile(join(pusher, file), text)
  await must(['git', 'add', file], { cwd: pusher })
  await must(['git', '-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', 'commit', '--quiet', '-m', `change ${file}`], { cwd: pusher })
  await must(['git', 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], { cwd: pusher })
  return (await must(['git', 'rev-parse', 'HEAD'], { cwd: pusher })).stdout.trim()
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-rerun-'))
  branch = `e2e-rerun-${process.pid}-${Date.now()}`
  pusher = join(home, 'fork')
  await must(['git', 'clone', '--quiet', '--branch', branches.denyattach, world().KSPAWN_WORLD_FORK, pusher])
  await must(['git', 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], { cwd: pusher })
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: workdir(),
    variants: [
      `alpha: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branch)} }, tag: 'v1.8.5-beta.0-rr-alpha', cluster: 'rralpha' }`,
      `beta: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_UPSTREAM)}, tag: 'v1.8.5-beta.0' }, tag: 'v1.8.5-beta.0-rr-beta', cluster: 'rrbeta' }`,
    ],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
})

test.after(async () => {
  await kspawn(home, ['down', '--all', '--config', config])
  await must(['git', 'push', '--quiet', 'origin', '--delete', branch], { cwd: pusher }).catch(() => undefined)
  await must(['docker', 'image', 'rm', '--force', 'gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-rr-alpha']).catch(() => undefined)
  await rm(home, { recursive: true, force: true })
})

test('--resume continues the latest run: its variants only, from where it stopped', async () => {
  const failed = await kspawn(home, ['run', 'dev-loop', '--config', config, '--variant', 'alpha'], { KSPAWN_WORLD_BUILD_FAIL_AT: 'kubelet' })
  assert.is(failed.exitCode, 1, failed.output.slice(-3000))
  assert.match(summaryOf(failed.output, 'alpha'), 'alpha failed at build')

  const resumed = await kspawn(home, ['run', 'dev-loop', '--config', config, '--resume'])
  assert.is(resumed.exitCode, 0, resumed.output.slice(-4000))
  assert.match(resumed.stdout, 'dev-loop: 1 of 1 variant passed')
  assert.not.match(resumed.output, /\(beta\)|rrbeta/, 'beta, which that run did not have, did not run')
  assert.match(resumed.stdout, /Fetch branch \S+ into a worktree \(alpha\) \[SKIPPED: done in run \S+\]\n/)
  assert.match(summaryOf(resumed.output, 'alpha'), deniedWith(messages.denyattach))
})

test('a step recorded done runs again when what it made is gone: after kspawn down, --resume brings the cluster up again', async () => {
  const down = await kspawn(home, ['down', 'rralpha', '--config', config])
  assert.is(down.exitCode, 0, down.output)
  assert.equal(await clusterLeft('rralpha', workdir()), nothingLeft)

  const resumed = await kspawn(home, ['run', 'dev-loop', '--config', config, '--resume'])
  assert.is(resumed.exitCode, 0, resumed.output.slice(-4000))
  assert.match(resumed.stdout, /cluster-up \(alpha\): done in run \S+, but cluster rralpha is gone: doing it again, and the steps after it\n/)
  assert.match(resumed.stdout, /Build Kubernetes: build\/run\.sh make \(alpha\) \[SKIPPED: done in run \S+\]\n/)
  assert.match(summaryOf(resumed.output, 'alpha'), deniedWith(messages.denyattach))
  assert.equal((await clusterLeft('rralpha', workdir())).machines, ['kubespawnrralpha0', 'kubespawnrralpha1'])
})

test('a rerun with nothing changed passes again on the same cluster; after a new commit the cluster runs the new build', async () => {
  const again = await kspawn(home, ['run', 'dev-loop', '--config', config, '--variant', 'alpha'])
  assert.is(again.exitCode, 0, again.output.slice(-4000))
  assert.match(again.stdout, /cluster-up \(alpha\): cluster rralpha is up on this very build \(made by run \S+\): reusing it; --recreate makes it anew\n/)
  assert.not.match(again.stdout, /\$ (sudo -E )?kube-spawn .* create /, 'no cluster was made')
  assert.not.match(again.stdout, '$ build/run.sh make\n', 'nothing was built')
  assert.match(summaryOf(again.output, 'alpha'), deniedWith(messages.denyattach))

  const commit = await pushCommit('RERUN.md', 'a change the developer made\n')
  const edited = await kspawn(home, ['run', 'dev-loop', '--config', config, '--variant', 'alpha'])
  assert.is(edited.exitCode, 0, edited.output.slice(-4000))
  assert.match(edited.stdout, '$ build/run.sh make\n')
  assert.match(edited.stdout, /cluster-up \(alpha\): cluster rralpha, made by run \S+ for variant alpha, runs another build than this one: replacing it\n/)
  // The API server answers with the gitVersion of the new commit's build.
  assert.match(summaryOf(edited.output, 'alpha'), new RegExp(`the API server runs the build v1\\.8\\.5-beta\\.0\\.\\d+\\+${commit.slice(0, 14)}`))
  const kubeconfig = join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'rralpha', 'kubeconfig')
  const version = await must(['kubectl', 'version', '-o', 'json'], { env: { KUBECONFIG: kubeconfig } })
  assert.match(version.stdout, commit.slice(0, 14))
})

test.run()
