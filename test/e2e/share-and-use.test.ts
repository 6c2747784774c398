// The article's sharing story end to end in the test world: denyattach is
// built and pushed with `kspawn run share`, then `kspawn run dev-loop` runs it
// built locally and, in a second cluster at the same time, as the external
// image pulled back from the registry; a kubeadm-touching patch used through
// an image is refused before anything runs for it; and an image variant with
// no variant built from source gets kubeadm and kubelet from the user's
// checkout's own build.
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, buildImage, checkout as makeCheckout, HYPERKUBE, kubeSpawn, messages, must, sh, world, type Result } from '../world/harness.ts'
import { deniedWith, kspawn as runKspawn, summaryOf, writeConfig as writeE2eConfig } from './project.ts'

const test = suite('kspawn run share, then dev-loop with the shared image')

let home: string
let checkout: string
const built = 'v1.8.5-beta.0-e2s-deny'
const pulled = 'v1.8.5-beta.0-e2s-shared'
const fixBuilt = 'v1.8.5-beta.0-e2s-fixbuilt'
const fixPulled = 'v1.8.5-beta.0-e2s-fixpulled'
const clusters = ['eshdeny', 'eshshared', 'eshkubeadm', 'eshcheckout']
const repository = () => `${world().KSPAWN_WORLD_REGISTRY}/kinvolk`
const shared = () => `${repository()}/hyperkube-amd64:${built}`
const sharedFix = () => `${repository()}/hyperkube-amd64:${fixBuilt}`

function writeConfig(name: string, variants: string[]): Promise<string> {
  const smoke = `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`
  return writeE2eConfig(join(home, name), { checkout, workdir: join(home, 'work'), variants, smoke, share: repository() })
}

function kspawn(args: string[]): Promise<Result> {
  return runKspawn(home, args)
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-e2e-share-'))
  checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
})

test.after(async () => {
  for (const cluster of clusters) {
    await kubeSpawn(['stop', '-c', cluster])
    await kubeSpawn(['destroy', '-c', cluster])
  }
  await sh(['docker', 'rmi', '--force', `${HYPERKUBE}:${built}`, `${HYPERKUBE}:${pulled}`, shared(), `${HYPERKUBE}:${fixBuilt}`, `${HYPERKUBE}:${fixPulled}`, sharedFix()])
  await rm(home, { recursive: true, force: true })
})

test('denyattach shared, then run built and as the shared image in two clusters at once', async () => {
  const denyattach = `denyattach: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: ${JSON.stringify(built)}, cluster: 'eshdeny' }`
  const external = `denyattachshared: { image: ${JSON.stringify(shared())}, tag: ${JSON.stringify(pulled)}, cluster: 'eshshared' }`
  const config = await writeConfig('kspawn.config.ts', [denyattach, external])

  const share = await kspawn(['run', 'share', '--variant', 'denyattach', '--config', config])
  assert.is(share.exitCode, 0, share.output.slice(-4000))
  const digest = new RegExp(`shared: ${shared().split(':')[0]!.replace(/[.]/g, '\\.')}:\\d+/kinvolk/hyperkube-amd64@sha256:[0-9a-f]{64}`)
  assert.match(share.output, digest)
  // Pulled from the registry in the next run, not taken from this engine's copy.
  await must(['docker', 'rmi', shared()])

  const run = await kspawn(['run', 'dev-loop', '--config', config])
  assert.is(run.exitCode, 0, run.output.slice(-4000))
  assert.match(run.output, `docker pull ${shared()}`)
  assert.match(run.output, `control plane: ${HYPERKUBE}:${pulled}, pulled from ${shared()}`)
  assert.match(run.output, `control plane: ${HYPERKUBE}:${built}, made from the build of variant denyattach`)
  const kubeadm = run.output.split('\n').filter((line) => line.includes('kubeadm, kubelet: '))
  assert.is(kubeadm.length, 2, run.output.slice(-3000))
  for (const line of kubeadm) assert.match(line, /worktrees\/denyattach\/src\/k8s\.io\/kubernetes\/_output\/dockerized\/bin\/linux\/amd64 \(v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}, variant denyattach\)$/)
  assert.match(run.output, 'kubeadm check: no source given')
  assert.not.match(run.output, /build \(denyattachshared\): \$/)
  // Both API servers, one on the built image and one on the pulled copy, denied attach themselves.
  assert.match(summaryOf(run.output, 'denyattach'), deniedWith(messages.denyattach))
  assert.match(summaryOf(run.output, 'denyattachshared'), deniedWith(messages.denyattach))

  const machines = await must(['machinectl', 'list'])
  for (const name of ['kubespawneshdeny0', 'kubespawneshdeny1', 'kubespawneshshared0', 'kubespawneshshared1']) assert.match(machines.stdout, name)
  const id = async (ref: string) => (await must(['docker', 'image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()
  assert.is(await id(`${HYPERKUBE}:${pulled}`), await id(`${HYPERKUBE}:${built}`))
})

test('a kubeadm-touching patch used through an image is refused before anything runs', async () => {
  const kubeadm = `kubeadmimage: { image: ${JSON.stringify(shared())}, tag: 'v1.8.5-beta.0-e2s-kubeadm', cluster: 'eshkubeadm', source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.kubeadm)} } }`
  const config = await writeConfig('kubeadm.config.ts', [kubeadm])
  const result = await kspawn(['run', 'dev-loop', '--config', config])
  assert.is(result.exitCode, 1, result.output.slice(-4000))
  assert.match(result.output, `changes kubeadm since v1.8.5-beta.0:`)
  assert.match(result.output, 'cmd/kubeadm/app/cmd/init.go')
  assert.match(result.output, 'Build this variant from source instead')
  assert.not.match(result.output, /docker pull|kube-spawn -d/)
  assert.not.ok(existsSync(join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'eshkubeadm')))
})

test("an image variant with no variant built from source gets kubeadm and kubelet from the checkout's build", async () => {
  // The user built their own checkout (upstream master), the article's way.
  await must(['build/run.sh', 'make'], { cwd: checkout })
  const output = join(checkout, '_output', 'dockerized', 'bin', 'linux', 'amd64')
  const kubelet = (JSON.parse((await must([join(output, 'kubelet'), '--build-info'])).stdout) as { gitVersion: string }).gitVersion
  // Someone else built denyattachfix and pushed its image; this engine does not have it.
  const elsewhere = await makeCheckout({ branch: branches.denyattachfix })
  try {
    await buildImage(elsewhere, fixBuilt)
  } finally {
    await elsewhere.remove()
  }
  const hyperkube = (JSON.parse((await must(['docker', 'run', '--rm', `${HYPERKUBE}:${fixBuilt}`, '/hyperkube', '--build-info'])).stdout) as { gitVersion: string }).gitVersion
  assert.is.not(hyperkube, kubelet)
  await must(['docker', 'tag', `${HYPERKUBE}:${fixBuilt}`, sharedFix()])
  await must(['docker', 'push', sharedFix()])
  await must(['docker', 'rmi', `${HYPERKUBE}:${fixBuilt}`, sharedFix()])

  const variant = `denyattachfix: { image: ${JSON.stringify(sharedFix())}, tag: ${JSON.stringify(fixPulled)}, cluster: 'eshcheckout' }`
  const smoke = `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattachfix)} })]`
  const config = await writeE2eConfig(join(home, 'checkout.config.ts'), { checkout, workdir: join(home, 'work'), variants: [variant], smoke })
  const run = await kspawn(['run', 'dev-loop', '--config', config])
  assert.is(run.exitCode, 0, run.output.slice(-4000))
  assert.match(run.stdout, `      control plane: ${HYPERKUBE}:${fixPulled}, pulled from ${sharedFix()}\n`)
  assert.match(run.stdout, `      kubeadm, kubelet: ${output} (${kubelet}, your checkout)\n`)
  assert.match(run.stdout, `      kubeadm check: no source given for ${sharedFix()}: kspawn cannot tell whether its patch changes kubeadm; the cluster runs kubeadm and kubelet from the build in your checkout (${output})\n`)
  assert.not.match(run.output, /build \(denyattachfix\): \$/)
  assert.match(summaryOf(run.output, 'denyattachfix'), deniedWith(messages.denyattachfix))

  // What the cluster says: its nodes run the checkout's kubelet, its API server the image's build.
  const kubeconfig = { KUBECONFIG: join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'eshcheckout', 'kubeconfig') }
  const nodes = (await must(['kubectl', 'get', 'nodes', '--no-headers', '-o', 'custom-columns=NAME:.metadata.name,VERSION:.status.nodeInfo.kubeletVersion'], { env: kubeconfig })).stdout
  assert.equal(nodes.trim().split('\n').map((line) => line.split(/\s+/)), [['kubespawneshcheckout0', kubelet], ['kubespawneshcheckout1', kubelet]])
  const server = JSON.parse((await must(['kubectl', 'version', '-o', 'json'], { env: kubeconfig })).stdout) as { serverVersion: { gitVersion: string } }
  assert.is(server.serverVersion.gitVersion, hyperkube)
})

test.run()
