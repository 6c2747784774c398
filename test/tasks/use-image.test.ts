// use-image on the world's real Docker engine, registry and git: an image
// variant pulls and retags its image and builds nothing; a patch that changes
// kubeadm is refused before anything runs for it.
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { UserVariant } from '../../engine/config/config.ts'
import { StepError } from '../../engine/errors.ts'
import type { Workflow } from '../../engine/run/task.ts'
import { build } from '../../plugins/kube-spawn/build.ts'
import { fetchSource } from '../../tasks/fetch-source.ts'
import { image } from '../../plugins/kube-spawn/image.ts'
import { changedFilesArgs, pullArgv, touchesKubeadm, useImage } from '../../plugins/kube-spawn/use-image.ts'
import { branches, configFor, HYPERKUBE, inWorld, must, playground, runOf, runWorkflowTasks, sh, theWorld, uniqueName, type Playground } from './support.ts'

const test = suite('use-image')
inWorld(test)

/** The dev loop up to the point where an image variant has its image. */
const toImage: Workflow = { id: 'to-image', description: '', tasks: [fetchSource, build, image, useImage] }

let place: Playground
const pushedTag = uniqueName('pushed')
const localTag = uniqueName('used')
let remote: string
let imageId: string

test.before(async () => {
  place = await playground()
  remote = `${theWorld().KSPAWN_WORLD_REGISTRY}/kinvolk/hyperkube-amd64:${pushedTag}`
  // Someone else's image in the registry, and no copy of it here.
  await must(['docker', 'build', '--quiet', '--label', `kspawn.test=${pushedTag}`, '--tag', remote, '-'], { input: 'FROM busybox:latest\n' })
  imageId = (await must(['docker', 'image', 'inspect', '--format', '{{.Id}}', remote])).stdout.trim()
  await must(['docker', 'push', remote])
  await must(['docker', 'rmi', remote])
})

test.after(async () => {
  await sh(['docker', 'rmi', '--force', remote, `${HYPERKUBE}:${localTag}`])
  await place.remove()
})

const run = (variant: UserVariant, options: { dryRun?: boolean } = {}) => runOf(configFor(place, { external: variant }), 'external', { root: place.root, ...options })
const fork = () => theWorld().KSPAWN_WORLD_FORK

test('argv builders and what counts as kubeadm', () => {
  assert.equal(pullArgv('docker.io/kinvolk/hyperkube-amd64:v1'), ['docker', 'pull', 'docker.io/kinvolk/hyperkube-amd64:v1'])
  assert.equal(changedFilesArgs('v1.8.5-beta.0', 'abc'), ['diff', '--name-only', 'v1.8.5-beta.0...abc'])
  assert.ok(touchesKubeadm('cmd/kubeadm/app/cmd/init.go'))
  assert.ok(touchesKubeadm('vendor/github.com/spf13/pflag/flag.go'))
  assert.not.ok(touchesKubeadm('cmd/kube-apiserver/app/plugins.go'))
  assert.not.ok(touchesKubeadm('plugin/pkg/admission/denyattach/admission.go'))
})

test('an image variant pulls and retags its image, and no build runs', async () => {
  const current = run({ image: remote, tag: localTag })
  const outcome = await runWorkflowTasks(toImage, current)
  assert.is(outcome.failed, undefined, String((outcome.error as Error | undefined)?.message))
  assert.equal(Object.keys(outcome.skipped), ['fetch-source', 'build', 'image'])
  assert.match(outcome.skipped.build!, 'image variant')
  const local = `${HYPERKUBE}:${localTag}`
  const changing = current.commands().filter((line) => !line.startsWith('docker image inspect'))
  assert.equal(changing, [`docker pull ${remote}`, `docker tag ${remote} ${local}`])
  assert.is((await must(['docker', 'image', 'inspect', '--format', '{{.Id}}', local])).stdout.trim(), imageId)
  assert.is(current.ctx.state.image, local)
  // No source: kspawn says it cannot tell, and which kubeadm the cluster will use.
  const warning = current.messages('warn').find((line) => line.includes('cannot tell whether its patch changes kubeadm'))
  assert.ok(warning, current.messages('warn').join('\n'))
  assert.match(warning!, 'the cluster runs kubeadm and kubelet from the build in your checkout')
  assert.match(current.ctx.state.kubeadmNote ?? '', 'cannot tell')
})

test('an image whose patch changes kubeadm is refused with what to do, and nothing is pulled', async () => {
  const current = run({ image: remote, tag: localTag, source: { remote: fork(), branch: branches.kubeadm } })
  const outcome = await runWorkflowTasks(toImage, current)
  assert.is(outcome.failed, 'use-image')
  assert.instance(outcome.error, StepError)
  const message = (outcome.error as Error).message
  assert.match(message, `variant external runs the image ${remote}, but its patch (branch ${branches.kubeadm} of ${fork()}`)
  assert.match(message, 'changes kubeadm since v1.8.5-beta.0:\n    cmd/kubeadm/app/cmd/init.go')
  assert.match(message, 'The hyperkube image carries the API server, controller manager and scheduler but not kubeadm')
  assert.match(message, `Build this variant from source instead: give it source and tag (tag: '${localTag}') without image.`)
  assert.not.ok(current.commands().some((line) => line.startsWith('docker')), current.commands().join('\n'))
})

test('an image whose patch leaves kubeadm alone is used, and the check is recorded', async () => {
  const current = run({ image: remote, tag: localTag, source: { remote: fork(), branch: branches.denyattachfix } })
  const outcome = await runWorkflowTasks(toImage, current)
  assert.is(outcome.failed, undefined, String((outcome.error as Error | undefined)?.message))
  assert.match(current.ctx.state.kubeadmNote ?? '', /changes no kubeadm code since v1\.8\.5-beta\.0$/)
  assert.equal(current.messages('warn'), [])
})

test('dry run prints the pull and the tag', async () => {
  const current = run({ image: remote, tag: localTag }, { dryRun: true })
  const outcome = await runWorkflowTasks(toImage, current)
  assert.is(outcome.failed, undefined)
  assert.equal(current.printed(), [`docker pull ${remote}`, `docker tag ${remote} ${HYPERKUBE}:${localTag}`])
})

test.run()
