// image on the world's Docker engine: the fixture's hyperkube Makefile runs a
// real docker build of the tree that was built.
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { Config } from '../../engine/config/config.ts'
import { build } from '../../plugins/kube-spawn/build.ts'
import { fetchSource } from '../../tasks/fetch-source.ts'
import { hyperkubeImage, image, imageArgv } from '../../plugins/kube-spawn/image.ts'
import { branches, configFor, groundwork, HYPERKUBE, inWorld, mustPass, playground, removeImages, runOf, runTask, sh, theWorld, uniqueName, type Playground } from './support.ts'

const test = suite('image')
inWorld(test)

let place: Playground
let config: Config
const tag = uniqueName('denyattach')

test.before(async () => {
  place = await playground()
  config = configFor(place, {
    denyattach: { source: { remote: theWorld().KSPAWN_WORLD_FORK, branch: branches.denyattach }, tag },
    external: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix' },
  })
})
test.after(async () => {
  await removeImages([tag])
  await place?.remove()
})

groundwork(test, 'fetch-source and build prepare denyattach', async () => {
  const prepared = runOf(config, 'denyattach', { root: place.root })
  mustPass(await runTask(fetchSource, prepared), 'fetch-source')
  mustPass(await runTask(build, prepared), 'build')
})

test('the article command', () => {
  assert.equal(imageArgv('v1.8.5-beta.0-denyattach'), ['make', '-C', 'cluster/images/hyperkube', 'VERSION=v1.8.5-beta.0-denyattach'])
  assert.is(hyperkubeImage('v1'), 'gcr.io/google-containers/hyperkube-amd64:v1')
})

test('makes the hyperkube image of the build, under the name kube-spawn takes it by', async () => {
  const run = runOf(config, 'denyattach', { root: place.root })
  run.ctx.state.gitVersion = (await sh(['hack/print-workspace-status.sh'], { cwd: run.ctx.state.worktree! })).stdout.match(/^gitVersion (\S+)$/m)?.[1]
  mustPass(await runTask(image, run), 'image')
  const name = `${HYPERKUBE}:${tag}`
  assert.is(run.ctx.state.image, name)
  assert.ok(run.commands().includes(`make -C cluster/images/hyperkube VERSION=${tag}`))
  assert.ok(run.commands().includes(`docker image inspect --format '{{.Id}}' ${name}`))
  const label = await sh(['docker', 'image', 'inspect', '--format', '{{index .Config.Labels "org.opencontainers.image.version"}}', name])
  assert.is(label.exitCode, 0, label.output)
  assert.is(label.stdout.trim(), run.ctx.state.gitVersion, 'the image holds this build')

  const again = runOf(config, 'denyattach', { root: place.root })
  assert.match((await runTask(image, again)).skipped ?? '', `${name} is already the image of the current build (sha256:`)
  assert.is(again.ctx.state.image, name)

  // Someone else's image under the same name is not taken for ours.
  await sh(['docker', 'tag', 'busybox:latest', name])
  const replaced = runOf(config, 'denyattach', { root: place.root })
  mustPass(await runTask(image, replaced), 'image after the name was taken over')
  assert.ok(replaced.commands().includes(`make -C cluster/images/hyperkube VERSION=${tag}`))
})

test('an image variant is not built here: cluster-up expects its image under the hyperkube name', async () => {
  const { skipped } = await runTask(image, runOf(config, 'external', { root: place.root }))
  assert.is(
    skipped,
    'image variant: it runs docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix, which cluster-up expects in the Docker engine as gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
  )
})

test.run()
