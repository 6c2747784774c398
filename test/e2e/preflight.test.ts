// What a run needs is checked before its first command: a bad checkout, a
// remote folder that is not there, a share workflow without a repository, a
// Docker daemon that does not answer are all refused at once, together, with
// exit 2 and nothing written. kspawn doctor says the same of the checkout and
// the remotes.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, messages, must, world } from '../world/harness.ts'
import { kspawn, writeConfig } from './project.ts'

const test = suite('found before anything runs')

let home: string
const workdir = () => join(home, 'work')

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-preflight-'))
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, join(home, 'kubernetes')])
})

test.after(async () => {
  await rm(home, { recursive: true, force: true })
})

const smoke = `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`

test('every problem at once, exit 2, and no run folder: a missing checkout, a remote folder that is not there, no share.repository', async () => {
  const missingCheckout = join(home, 'nowhere', 'kubernetes')
  const missingRemote = join(home, 'no-such-fork.git')
  const config = await writeConfig(join(home, 'broken.config.ts'), {
    checkout: missingCheckout,
    workdir: workdir(),
    variants: [
      `alpha: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: 'v1.8.5-beta.0-pf-alpha', cluster: 'pfalpha' }`,
      `beta: { source: { remote: ${JSON.stringify(missingRemote)}, branch: 'main' }, tag: 'v1.8.5-beta.0-pf-beta', cluster: 'pfbeta' }`,
    ],
    smoke,
  })
  const result = await kspawn(home, ['run', 'share', '--config', config])
  assert.is(result.exitCode, 2, result.output)
  assert.is(
    result.stderr,
    [
      'cannot start share, so nothing was run:',
      `  - your Kubernetes checkout ${missingCheckout} does not exist: clone it there (git clone https://github.com/kubernetes/kubernetes ${missingCheckout}) or change kubernetes.checkout in ${config}`,
      `  - ${config} has no share.repository, the repository the share workflow pushes images to: add share: { repository: 'docker.io/<your account>' }`,
      `  - variants.beta.source.remote in ${config} is the folder ${missingRemote}, which does not exist: give the repository's URL or path`,
      'kspawn doctor checks this machine for the config.',
      '',
    ].join('\n'),
  )
  assert.is(result.stdout, '')
  assert.not.ok(existsSync(join(workdir(), 'runs')), 'no run folder was made')
  assert.not.ok(existsSync(join(workdir(), 'locks')), 'no lock was taken')

  const doctor = await kspawn(home, ['doctor', '--config', config])
  assert.is(doctor.exitCode, 1, doctor.output)
  assert.match(doctor.stdout, new RegExp(`✖ checkout +your Kubernetes checkout ${missingCheckout} does not exist: `))
  assert.match(doctor.stdout, new RegExp(`✖ remotes +variants\\.beta\\.source\\.remote in ${config} is the folder ${missingRemote}, which does not exist`))
  assert.match(doctor.stdout, 'Missing: checkout, remotes.')
})

test('a Docker daemon that does not answer is found before the build, not at the image step', async () => {
  const config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout: join(home, 'kubernetes'),
    workdir: workdir(),
    variants: [`alpha: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: 'v1.8.5-beta.0-pf-alpha', cluster: 'pfalpha' }`],
    smoke,
  })
  const socket = join(home, 'no-daemon.sock')
  const result = await kspawn(home, ['run', 'dev-loop', '--config', config], { DOCKER_HOST: `unix://${socket}` })
  assert.is(result.exitCode, 2, result.output)
  assert.match(result.stderr, /^cannot start dev-loop, so nothing was run:\n  - docker daemon: does not answer \(Cannot connect to the Docker daemon at unix:\/\/\S+no-daemon\.sock\. Is the docker daemon running\?\) \(to build and keep the images\); nothing answers at DOCKER_HOST=unix:\/\/\S+no-daemon\.sock: /)
  assert.not.ok(existsSync(join(workdir(), 'runs')), 'no run folder was made')

  // The same config with the world's daemon: doctor is content with the checkout and the remotes.
  const doctor = await kspawn(home, ['doctor', '--config', config])
  assert.is(doctor.exitCode, 0, doctor.output)
  assert.match(doctor.stdout, new RegExp(`✔ checkout +${join(home, 'kubernetes')} is a git work tree`))
  assert.match(doctor.stdout, new RegExp(`✔ remotes +${world().KSPAWN_WORLD_FORK}`))
})

test.run()
