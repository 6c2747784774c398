// kubeadm in kube-spawn's machines. kube-spawn --dev copies kubelet and
// kubeadm from a Kubernetes build into the machines, not from the hyperkube
// image, and `kubeadm init` there decides the master's node: it writes the
// kubelet's identity (system:node:<name>) and marks that node as the master.
// So the tree kubeadm was built from shows in what kubectl sees. The fixture's
// kubeadm-nodename branch lower-cases the default node name; a cluster whose
// machine names have capitals shows it: with that branch's kubeadm the master
// registers and is marked, with kubeadm from another tree (a wrong "donor",
// what an image variant would get) it never registers and kubeadm init fails.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, buildImage, buildInfo, checkout, HYPERKUBE, kubeSpawn, sh, world, type Checkout } from './harness.ts'

const test = suite('kubeadm in the machines')

const id = randomBytes(3).toString('hex')
const tag = `v1.8.5-beta.0-kubeadm-${id}`
// Capitals in the cluster name give the machines hostnames with capitals.
const right = `Right${id}`
const wrong = `Wrong${id}`

interface Built {
  /** The kubeadm-nodename branch, whose build the image comes from. */
  patched: Checkout
  /** The upstream tag: the same Kubernetes but for the kubeadm patch. */
  upstream: Checkout
}
let built: Built | undefined
const trees: Checkout[] = []
let home = ''

/** The builds of the first test, or a failure that says they are missing. */
function builds(): Built {
  if (!built) assert.unreachable('the builds are missing: the test "builds the kubeadm-nodename branch ..." did not pass')
  return built!
}

function rows(table: string): string[][] {
  return table.trim().split('\n').slice(1).map((line) => line.trim().split(/\s{2,}/))
}

function kubectl(args: string[]) {
  // A private HOME keeps kubectl's caches out of the user's.
  return sh(['kubectl', ...args], { env: { HOME: home } })
}

/** `kube-spawn create --dev` with the tree's build, then what `kube-spawn start` did. */
async function start(cluster: string, tree: Checkout, env: Record<string, string> = {}) {
  const create = await kubeSpawn(['create', '--dev', '-t', tag, '-c', cluster], { env: { GOPATH: tree.gopath } })
  assert.is(create.exitCode, 0, create.output)
  return kubeSpawn(['start', '-c', cluster], { env: { GOPATH: tree.gopath, ...env } })
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-kubeadm-home-'))
})

test.after(async () => {
  for (const cluster of [right, wrong]) {
    await kubeSpawn(['destroy', '-c', cluster])
  }
  for (const tree of trees) await tree.remove()
  await sh(['docker', 'rmi', `${HYPERKUBE}:${tag}`])
  await rm(home, { recursive: true, force: true })
})

test('builds the kubeadm-nodename branch with its image, and the upstream tag', async () => {
  world()
  const patched = await checkout({ branch: branches.kubeadm })
  trees.push(patched)
  const upstream = await checkout({ upstreamRef: 'v1.8.5-beta.0' })
  trees.push(upstream)
  await buildImage(patched, tag)
  const make = await sh(['build/run.sh', 'make'], { cwd: upstream.tree })
  assert.is(make.exitCode, 0, make.output)
  // The two kubeadm builds differ in their sources, and only there.
  const [patchedKubeadm, upstreamKubeadm] = await Promise.all([buildInfo(patched, 'kubeadm'), buildInfo(upstream, 'kubeadm')])
  assert.is.not(patchedKubeadm.kubeadmSourceDigest, upstreamKubeadm.kubeadmSourceDigest)
  assert.equal(patchedKubeadm.admissionPlugins, upstreamKubeadm.admissionPlugins)
  built = { patched, upstream }
})

test("with the patch's own kubeadm, the master registers in lower case and kubeadm marks it", async () => {
  const { patched } = builds()
  const started = await start(right, patched)
  assert.is(started.exitCode, 0, started.output)
  const master = `kubespawn${right.toLowerCase()}0`
  assert.match(started.stdout, `[markmaster] Will mark node ${master} as master by adding a label and a taint\n`)
  assert.match(started.stdout, `[markmaster] Master ${master} tainted and labelled with key/value: node-role.kubernetes.io/master=""\n`)

  const kubeconfig = join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, right, 'kubeconfig')
  // The worker registers once its kubeadm join is done, after start returns: kubectl wait --all sees only registered nodes.
  for (let tries = 0; tries < 120; tries++) {
    const names = await kubectl(['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'name'])
    if (names.stdout.split('\n').filter(Boolean).length >= 2) break
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  const wait = await kubectl(['--kubeconfig', kubeconfig, 'wait', '--for=condition=Ready', 'node', '--all', '--timeout=120s'])
  assert.is(wait.exitCode, 0, wait.output)
  const nodes = await kubectl(['--kubeconfig', kubeconfig, 'get', 'nodes'])
  assert.is(nodes.exitCode, 0, nodes.output)
  const version = (await buildInfo(patched, 'kubelet')).gitVersion
  assert.equal(
    rows(nodes.stdout).map(([name, status, roles, , v]) => [name, status, roles, v]),
    [
      [master, 'Ready', 'master', version],
      [`kubespawn${right.toLowerCase()}1`, 'Ready', '<none>', version],
    ],
  )
  const taints = await kubectl(['--kubeconfig', kubeconfig, 'get', 'node', master, '-o', 'jsonpath={.spec.taints}'])
  assert.equal(JSON.parse(taints.stdout), [{ effect: 'NoSchedule', key: 'node-role.kubernetes.io/master' }])
})

test('with kubeadm from another tree, the master never registers and kubeadm init fails', async () => {
  const { patched, upstream } = builds()
  // The image of the kubeadm-nodename branch, the kubelet and kubeadm of the upstream tag; kubeadm gives up after 5 s.
  const started = await start(wrong, upstream, { KSPAWN_WORLD_MARK_MASTER_TIMEOUT: '5' })
  assert.is(started.exitCode, 1, started.output)
  const hostname = `kubespawn${wrong}0`
  const node = hostname.toLowerCase()
  assert.match(started.stdout, `[markmaster] Will mark node ${hostname} as master by adding a label and a taint\n`)
  assert.match(started.stdout, 'error marking master: timed out waiting for the condition\n')
  assert.match(started.stderr, `failed to initialize master node: `)
  assert.not.match(started.stdout, '[markmaster] Master')

  // What the machine got is the upstream kubeadm, not the one of the image's tree.
  const inMachine = await sh(['docker', 'exec', hostname, '/usr/bin/kubeadm', '--build-info'])
  const machineKubeadm = JSON.parse(inMachine.stdout) as { kubeadmSourceDigest: string }
  assert.is(machineKubeadm.kubeadmSourceDigest, (await buildInfo(upstream, 'kubeadm')).kubeadmSourceDigest)
  const inImage = await sh(['docker', 'exec', hostname, '/hyperkube', '--build-info'])
  assert.is((JSON.parse(inImage.stdout) as { kubeadmSourceDigest: string }).kubeadmSourceDigest, (await buildInfo(patched, 'kubeadm')).kubeadmSourceDigest)

  // kube-spawn wrote no kubeconfig, but the API server runs: kubectl finds no node there.
  const clusterDir = join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, wrong)
  const { url } = JSON.parse(await readFile(join(clusterDir, 'apiserver.json'), 'utf8')) as { url: string }
  const nodes = await kubectl(['--server', url, 'get', 'nodes'])
  assert.is(nodes.exitCode, 0, nodes.output)
  assert.is(nodes.stdout, '')
  assert.match(nodes.stderr, 'No resources found')
  // Why, in the API server's log: NodeRestriction refused the master's kubelet.
  const log = await readFile(join(clusterDir, 'apiserver.log'), 'utf8')
  assert.match(log, `Unable to register node "${node}" with API server: nodes "${node}" is forbidden: node "${hostname}" cannot modify node "${node}"`)
})

test.run()
