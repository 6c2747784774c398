// The world as a whole: the article's loop on the fixture tree, through the
// real engine, registry and kubectl and the kube-spawn stand-in.
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { articleTest, branches, buildImage, buildInfo, checkout, HYPERKUBE, kubeSpawn, messages, must, nodesReady, sh, spawnCluster, world, type Checkout } from './harness.ts'
import { worldDir } from './state.ts'

const test = suite('world')

type Tree = 'upstream' | 'denyattach' | 'denyattachfix'
const trees: Partial<Record<Tree, Checkout>> = {}
const tags = { upstream: 'v1.8.5-beta.0-wt-upstream', denyattach: 'v1.8.5-beta.0-wt-denyattach', denyattachfix: 'v1.8.5-beta.0-wt-denyattachfix' }
let built = false

/** A tree the first test built, with its image; a failure that says so when that test did not pass. */
function tree(name: Tree): Checkout {
  if (!built) assert.unreachable(`no build of ${name}: the test "builds the upstream tag and both patch branches, with their images" did not pass`)
  return trees[name]!
}

test.after(async () => {
  for (const checkout of Object.values(trees)) await checkout.remove()
  await sh(['docker', 'rmi', ...Object.values(tags).map((tag) => `${HYPERKUBE}:${tag}`)])
})

test('builds the upstream tag and both patch branches, with their images', async () => {
  world()
  trees.upstream = await checkout({ upstreamRef: 'v1.8.5-beta.0' })
  trees.denyattach = await checkout({ branch: branches.denyattach })
  trees.denyattachfix = await checkout({ branch: branches.denyattachfix })
  await Promise.all([buildImage(trees.upstream, tags.upstream), buildImage(trees.denyattach, tags.denyattach), buildImage(trees.denyattachfix, tags.denyattachfix)])
  for (const tag of Object.values(tags)) assert.is((await sh(['docker', 'image', 'inspect', `${HYPERKUBE}:${tag}`])).exitCode, 0, `${HYPERKUBE}:${tag} was built`)
  built = true
})

test('the upstream tag allows attach: the pod streams its dates', async () => {
  const cluster = await spawnCluster('wtupstream', tags.upstream, tree('upstream'))
  try {
    const { logs, attach } = await articleTest(cluster)
    assert.match(logs.stdout, /UTC \d{4}\n/)
    assert.not.match(attach.output, /Forbidden/)
    assert.match(attach.stdout, /UTC \d{4}/, `attach should stream the pod's output, saw:\n${attach.output}`)
  } finally {
    await cluster.destroy()
  }
})

test('denyattach and its fix run side by side, each denying attach with its own message', async () => {
  const [deny, fix] = await Promise.all([
    spawnCluster('wtdeny', tags.denyattach, tree('denyattach')),
    spawnCluster('wtdenyfix', tags.denyattachfix, tree('denyattachfix')),
  ])
  try {
    const machines = await must(['machinectl', 'list'])
    for (const name of ['kubespawnwtdeny0', 'kubespawnwtdeny1', 'kubespawnwtdenyfix0', 'kubespawnwtdenyfix1']) {
      assert.match(machines.stdout, new RegExp(`^${name} +container systemd-nspawn coreos`, 'm'))
    }
    const [denied, deniedByFix] = await Promise.all([articleTest(deny), articleTest(fix)])
    assert.is.not(denied.attach.exitCode, 0)
    assert.match(denied.attach.stderr, `Error from server (Forbidden): pods "mypod" is forbidden: ${messages.denyattach}`)
    assert.is.not(deniedByFix.attach.exitCode, 0)
    assert.match(deniedByFix.attach.stderr, `Error from server (Forbidden): pods "mypod" is forbidden: ${messages.denyattachfix}`)
    assert.match(denied.logs.stdout, /UTC \d{4}\n/)
  } finally {
    await Promise.all([deny.destroy(), fix.destroy()])
  }
})

test('kubectl version and get nodes show the gitVersion that was built', async () => {
  const info = await buildInfo(tree('denyattach'))
  assert.match(info.gitVersion, /^v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}$/)
  const cluster = await spawnCluster('wtversion', tags.denyattach, tree('denyattach'))
  try {
    const version = await cluster.kubectl(['version'])
    assert.match(version.stdout, `Server Version: ${info.gitVersion}`)
    await nodesReady(cluster)
    const nodes = await cluster.kubectl(['get', 'nodes'])
    assert.match(nodes.stdout, new RegExp(`^kubespawnwtversion0 +Ready +master +\\S+ +${info.gitVersion.replaceAll('.', '\\.').replace('+', '\\+')}$`, 'm'))
    assert.match(nodes.stdout, /^kubespawnwtversion1 +Ready +<none>/m)
  } finally {
    await cluster.destroy()
  }
})

test('kube-spawn create --dev fails clearly when the image was never built', async () => {
  const result = await kubeSpawn(['create', '--dev', '-t', 'v1.8.5-beta.0-never-built', '-c', 'wtnoimage'], { env: { GOPATH: tree('denyattach').gopath } })
  assert.is.not(result.exitCode, 0)
  assert.match(result.output, `${HYPERKUBE}:v1.8.5-beta.0-never-built`)
  // Like the original, a create that failed half-way leaves a folder without
  // kspawn.toml, which kube-spawn destroy cannot load: remove it by hand.
  await rm(join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'wtnoimage'), { recursive: true, force: true })
})

test('kube-spawn create --dev fails clearly when the tree was never built', async () => {
  const unbuilt = await checkout({ branch: branches.denyattach })
  try {
    const result = await kubeSpawn(['create', '--dev', '-t', tags.denyattach, '-c', 'wtnobuild'], { env: { GOPATH: unbuilt.gopath } })
    assert.is.not(result.exitCode, 0)
    assert.match(result.output, `error getting k8s build output directory: stat ${unbuilt.tree}/_output/bin: no such file or directory`)
    await kubeSpawn(['destroy', '-c', 'wtnobuild'])
  } finally {
    await unbuilt.remove()
  }
})

test('a cluster name ending in a digit collides with another cluster\'s machines', async () => {
  // kube-spawn v0.2 names machines kubespawn<cluster><index>: node 10 of "wtx"
  // and node 0 of "wtx1" are both kubespawnwtx10.
  const env = { GOPATH: tree('denyattach').gopath }
  try {
    await must(['kube-spawn', '-d', world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'create', '--dev', '-t', tags.denyattach, '-c', 'wtx', '-n', '11'], { env })
    await must(['kube-spawn', '-d', world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'start', '-c', 'wtx'], { env })
    await must(['kube-spawn', '-d', world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'create', '--dev', '-t', tags.denyattach, '-c', 'wtx1'], { env })
    const second = await kubeSpawn(['start', '-c', 'wtx1'], { env })
    assert.match(second.stderr, 'Could not clone image: File exists')
    assert.match(second.stderr, 'not all machines started')
    const machines = await must(['machinectl', 'list'])
    assert.is(machines.stdout.match(/^kubespawnwtx10 /gm)?.length, 1, 'one machine holds the name both clusters want')
  } finally {
    for (const name of ['wtx1', 'wtx']) {
      await kubeSpawn(['stop', '-c', name])
      await kubeSpawn(['destroy', '-c', name])
    }
  }
})

test('npm run walkthrough performs the article and ends with both Forbidden messages', async () => {
  const result = await sh(['bash', join(worldDir, 'walkthrough.sh')], { timeoutMs: 300_000 })
  assert.is(result.exitCode, 0, result.output.slice(-3000))
  assert.match(result.output, `Error from server (Forbidden): pods "mypod" is forbidden: ${messages.denyattach}`)
  assert.match(result.output, `Error from server (Forbidden): pods "mypod" is forbidden: ${messages.denyattachfix}`)
  assert.match(result.output, /^kubespawndenyattachfix1 +container systemd-nspawn coreos 1492\.1\.0 10\.22\.0\.\d+\.\.\.$/m)
  assert.match(result.output, /^kubespawndenyattach0 +container systemd-nspawn coreos/m)
  // Its clusters are gone afterwards, so the world is as it was.
  const after = await must(['machinectl', 'list'])
  assert.not.match(after.stdout, 'kubespawndenyattach')
})

test.run()
