// share-image on the world's real Docker engine and registry: the pushed
// reference comes back with its digest, and pulling that digest gives the
// same image.
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { StepError } from '../../engine/errors.ts'
import { tagArgv } from '../../tasks/docker.ts'
import { parsePushDigest, pickRepoDigest, pushArgv, repoDigestsArgv, shareImage, sharedImage } from '../../tasks/share-image.ts'
import { configFor, HYPERKUBE, inWorld, must, playground, runOf, runTask, sh, theWorld, uniqueName, type Playground } from './support.ts'

const test = suite('share-image')
inWorld(test)

let place: Playground
const tag = uniqueName('share')
const local = `${HYPERKUBE}:${tag}`
let repository: string
/** The reference pulled back by digest, removed at the end. */
let pulled = ''

test.before(async () => {
  place = await playground()
  repository = `${theWorld().KSPAWN_WORLD_REGISTRY}/kinvolk`
  // An image of its own (busybox with a label), so that removing it removes no other image's layers or tags.
  await must(['docker', 'build', '--quiet', '--label', `kspawn.test=${tag}`, '--tag', local, '-'], { input: 'FROM busybox:latest\n' })
})

test.after(async () => {
  await sh(['docker', 'rmi', '--force', local, sharedImage(repository, 'hyperkube-amd64', tag), ...(pulled ? [pulled] : [])])
  await place.remove()
})

const config = (share: boolean) => {
  const loaded = configFor(place, { denyattach: { source: { remote: theWorld().KSPAWN_WORLD_FORK, branch: 'alban/v1.8.5-beta.0-denyattach' }, tag } })
  return share ? { ...loaded, share: { repository } } : loaded
}

test('argv builders', () => {
  assert.is(sharedImage('docker.io/kinvolk', 'hyperkube-amd64', 'v1.8.5-beta.0-denyattach'), 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattach')
  assert.is(sharedImage('127.0.0.1:5000/', 'hyperkube-amd64', 'v1'), '127.0.0.1:5000/hyperkube-amd64:v1')
  assert.equal(tagArgv(`${HYPERKUBE}:v1`, 'docker.io/kinvolk/hyperkube-amd64:v1'), ['docker', 'tag', `${HYPERKUBE}:v1`, 'docker.io/kinvolk/hyperkube-amd64:v1'])
  assert.equal(pushArgv('docker.io/kinvolk/hyperkube-amd64:v1'), ['docker', 'push', 'docker.io/kinvolk/hyperkube-amd64:v1'])
  assert.equal(repoDigestsArgv('r/h:v1'), ['docker', 'image', 'inspect', '--format', '{{json .RepoDigests}}', 'r/h:v1'])
  const digest = `sha256:${'a'.repeat(64)}`
  assert.is(parsePushDigest(`abc: Pushed\nv1: digest: ${digest} size: 527\n`), digest)
  assert.is(parsePushDigest('nothing here'), undefined)
  assert.is(pickRepoDigest([`docker.io/other/hyperkube-amd64@${digest}`, `r/kinvolk/hyperkube-amd64@${digest}`], 'r/kinvolk/hyperkube-amd64:v1'), `r/kinvolk/hyperkube-amd64@${digest}`)
})

test('without share in the config, the step fails naming the field, and runs nothing', async () => {
  const run = runOf(config(false), 'denyattach', { root: place.root })
  const { error } = await runTask(shareImage, run)
  assert.instance(error, StepError)
  assert.match((error as Error).message, 'has no share.repository, the repository to push images to: add share: { repository:')
  assert.equal(run.commands(), [])
})

test('dry run prints the tag and the push, and pushes nothing', async () => {
  const run = runOf(config(true), 'denyattach', { root: place.root, dryRun: true })
  assert.equal(await runTask(shareImage, run), {})
  const target = sharedImage(repository, 'hyperkube-amd64', tag)
  assert.equal(run.printed(), [`docker tag ${local} ${target}`, `docker push ${target}`])
})

test('pushes to the registry and prints the digest; the image pulled back by digest is the same image', async () => {
  const run = runOf(config(true), 'denyattach', { root: place.root })
  const outcome = await runTask(shareImage, run)
  assert.is(outcome.error, undefined, String((outcome.error as Error | undefined)?.message))
  const target = sharedImage(repository, 'hyperkube-amd64', tag)
  const shared = run.ctx.state.shared ?? ''
  assert.match(shared, new RegExp(`^${repository.replace(/[.]/g, '\\.')}/hyperkube-amd64@sha256:[0-9a-f]{64}$`))
  assert.ok(run.messages('info').includes(`pushed ${target}: ${shared}`))
  assert.ok(run.commands().includes(`docker push ${target}`))

  const id = async (ref: string) => (await must(['docker', 'image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()
  const before = await id(local)
  await must(['docker', 'rmi', local, target])
  assert.is.not((await sh(['docker', 'image', 'inspect', before])).exitCode, 0, 'the local copy is gone')
  pulled = shared
  await must(['docker', 'pull', shared])
  assert.is(await id(shared), before)
})

test.run()
