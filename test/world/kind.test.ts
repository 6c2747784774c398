// The kind stand-in (test/world/bin/kind), as a deployer and a developer
// see it: node images built with its build node-image from the fixture's
// v1.36.1 release and DenyAttach branch, clusters of them that the real
// kubectl uses (nodes Ready, the server runs the build, a pod runs, attach is
// refused exactly when the kubeadm patch enables DenyAttach), and kind's
// messages, labels, names, files and exit codes.
//
//   node --import tsx test/run.ts test/world/kind.test.ts
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { groundwork, suite } from '../suite.ts'
import { MODERN_BRANCHES, MODERN_TAG } from './fixture/generate.ts'
import { articleTest, checkout, kindCluster, messages, must, sh, world, type Checkout, type Result } from './harness.ts'
import { isAlive } from './process.ts'
import { WITH_NODE_KUBE_APISERVER } from './standins/kind/cluster.ts'

const test = suite('kind stand-in')

const id = randomBytes(3).toString('hex')
const images = { denyattach: `kspawn/kind-node:test-${id}-denyattach`, release: `kspawn/kind-node:test-${id}-release` }
/** Clusters the tests make: a -prefixed name each, so that nothing else in the world is touched. */
const names = { map: `k${id}-map`, list: `k${id}-list`, off: `k${id}-off`, wrong: `k${id}-wrong` }

let tmp = ''
let home = ''
const trees: Checkout[] = []
const built: Record<keyof typeof images, { tree: string; gitVersion: string; result: Result } | undefined> = { denyattach: undefined, release: undefined }

/** kind in the world, with a HOME and KUBECONFIG of the test's own. */
const kind = (args: string[], env: Record<string, string> = {}): Promise<Result> =>
  sh(['kind', ...args], { env: { HOME: home, KUBECONFIG: join(home, '.kube', 'config'), ...env }, timeoutMs: 600_000 })
const kubeconfigOf = (name: string): string => join(tmp, `${name}.kubeconfig`)

function image(which: keyof typeof images): { tree: string; gitVersion: string; result: Result } {
  const b = built[which]
  if (!b) assert.unreachable(`no node image ${images[which]}: the groundwork did not pass`)
  return b!
}

async function writeConfig(name: string, text: string): Promise<string> {
  const file = join(tmp, `${name}.yaml`)
  await writeFile(file, text)
  return file
}

const MAP_FORM = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  apiServer:
    extraArgs:
      enable-admission-plugins: NodeRestriction,DenyAttach
`

/** The list form, versioned, as the control-plane node's own patch (it applies where the API server runs). */
const LIST_FORM = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  kubeadmConfigPatches:
  - |
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: ClusterConfiguration
    apiServer:
      extraArgs:
      - name: enable-admission-plugins
        value: DenyAttach
`

/** The plugins on by default and those registered by the DenyAttach branch's build, as kube-apiserver --help lists them. */
const DEFAULT_ON =
  'NamespaceLifecycle, LimitRanger, ServiceAccount, TaintNodesByCondition, Priority, DefaultTolerationSeconds, MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ResourceQuota'
const REGISTERED =
  'AlwaysAdmit, DefaultTolerationSeconds, DenyAttach, LimitRanger, MutatingAdmissionWebhook, NamespaceLifecycle, NodeRestriction, Priority, ResourceQuota, ServiceAccount, TaintNodesByCondition, ValidatingAdmissionWebhook'
const ENABLE_HELP = `      --enable-admission-plugins strings       admission plugins that should be enabled in addition to default enabled ones (${DEFAULT_ON}). Comma-delimited list of admission plugins: ${REGISTERED}. The order of plugins in this flag does not matter.`

/** The real kubectl on a cluster of the test, with the test's HOME. */
const kubectl = (name: string, args: string[]): Promise<Result> => sh(['kubectl', ...args], { env: { HOME: home, KUBECONFIG: kubeconfigOf(name) } })

/**
 * The command of the API server's mirror pod, as a user reads it:
 * kubectl -n kube-system get pods -l component=kube-apiserver -o jsonpath=...
 * The master's kubelet mirrors it once its node registered: a few seconds at most.
 */
async function apiServerCommand(name: string): Promise<string[]> {
  const args = ['-n', 'kube-system', 'get', 'pods', '-l', 'component=kube-apiserver', '-o', 'jsonpath={.items[0].spec.containers[0].command}']
  const deadline = Date.now() + 30_000
  for (;;) {
    const r = await kubectl(name, args)
    if (r.exitCode === 0 && r.stdout !== '') return JSON.parse(r.stdout) as string[]
    if (Date.now() > deadline) assert.unreachable(`no kube-apiserver pod in kube-system after 30 s: ${r.output}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const enableFlags = (command: string[]): string[] => command.filter((arg) => arg.startsWith('--enable-admission-plugins'))

/** The status lines of a create, in order, without --wait. */
function createSteps(nodes: number, workers: boolean, image: string): string[] {
  const steps = [`Ensuring node image (${image}) 🖼`, `Preparing nodes ${'📦 '.repeat(nodes)}`, 'Writing configuration 📜', 'Starting control-plane 🕹️', 'Installing CNI 🔌', 'Installing StorageClass 💾']
  if (workers) steps.push('Joining worker nodes 🚜')
  return steps.flatMap((s) => [` • ${s}  ...`, ` ✓ ${s}`])
}

/** stderr without kind's cgroup v1 warning, which depends on the machine. */
const said = (r: Result): string => r.stderr.replace('cgroup v1 is deprecated in Kubernetes and will not be supported in a future kind release, please upgrade to cgroup v2\n', '')

/** The nodes of a `Deleted nodes: ["a" "b"]` line, sorted: kind lists them in docker's order, and they were made side by side. */
function deletedNodes(line: string | undefined): string[] | undefined {
  const list = /^Deleted nodes: \[(.*)\]$/.exec(line ?? '')?.[1]
  return list === undefined ? undefined : (JSON.parse(`[${list.replaceAll('" "', '", "')}]`) as string[]).sort()
}

async function inspect(container: string, format: string): Promise<string> {
  return (await must(['docker', 'inspect', '--format', format, container])).stdout.trim()
}

test.before(async () => {
  // world() says what to do when the world is not up.
  world()
  tmp = await mkdtemp(join(tmpdir(), 'kspawn-kind-'))
  home = join(tmp, 'home')
})

test.after(async () => {
  for (const name of Object.values(names)) await kind(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfigOf(name)])
  await sh(['docker', 'rmi', '--force', ...Object.values(images)])
  for (const t of trees) await t.remove()
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

groundwork(test, 'kind build node-image builds the DenyAttach branch and the release tag', async () => {
  const tags = await must(['git', 'tag', '--list', MODERN_TAG], { cwd: world().KSPAWN_WORLD_UPSTREAM })
  if (tags.stdout.trim() !== MODERN_TAG) throw new Error(`the world's fixture has no tag ${MODERN_TAG}: run npm run world:up again to regenerate it`)
  const patched = await checkout({ branch: MODERN_BRANCHES.denyattach })
  const release = await checkout({ upstreamRef: MODERN_TAG })
  trees.push(patched, release)
  for (const [which, tree] of [['denyattach', patched], ['release', release]] as const) {
    const result = await kind(['build', 'node-image', tree.tree, '--type', 'source', '--image', images[which]])
    if (result.exitCode !== 0) throw new Error(`kind build node-image ${tree.tree} exited with ${result.exitCode}:\n${result.output.slice(-4000)}`)
    const status = await must(['hack/print-workspace-status.sh'], { cwd: tree.tree })
    const gitVersion = /^gitVersion (.*)$/m.exec(status.stdout)?.[1] ?? ''
    built[which] = { tree: tree.tree, gitVersion, result }
  }
})

test('kind version', async () => {
  const r = await kind(['version'])
  assert.is(r.exitCode, 0)
  assert.is(r.stdout, 'kind v0.32.0 go1.26.3 linux/amd64\n')
  assert.is(r.stderr, '')
})

test("build node-image says kind's lines and makes the node image of the tree's build", async () => {
  const { tree, gitVersion, result } = image('denyattach')
  const lines = result.stderr.split('\n')
  const expected = [`Building using source: "${tree}"`, 'Starting to build Kubernetes', 'Finished building Kubernetes', 'Building node image ...']
  for (const line of expected) assert.ok(lines.includes(line), `stderr has "${line}":\n${result.stderr}`)
  assert.equal(expected.map((line) => lines.indexOf(line)), [...expected.map((line) => lines.indexOf(line))].sort((a, b) => a - b), 'in that order')
  assert.match(result.stderr, /^Building in container: kind-build-\d+-\d+$/m)
  assert.ok(result.stderr.endsWith(`Image "${images.denyattach}" build completed.\n`), result.stderr.slice(-300))
  // The tree's make output is passed through.
  assert.match(result.stdout, /Docker builds done/)
  assert.match(gitVersion, /^v1\.36\.1-1\+[0-9a-f]{14}$/)

  const inside = await must(['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'sh', images.denyattach, '-c', 'cat /kind/version; echo; ls /kind/images; /usr/bin/kubeadm --version; /usr/bin/kubelet --version'])
  assert.is(inside.stdout, `${gitVersion}\nkube-apiserver.tar\nkube-controller-manager.tar\nkube-proxy.tar\nkube-scheduler.tar\nKubernetes ${gitVersion}\nKubernetes ${gitVersion}\n`)
  assert.is(await inspect(images.denyattach, '{{json .Config.Entrypoint}}'), '["/usr/local/bin/entrypoint","/sbin/init"]')
  const leftovers = await must(['docker', 'ps', '-a', '--filter', 'name=kind-build-', '--format', '{{.Names}}'])
  assert.is(leftovers.stdout, '', 'the build container is removed')
  assert.is(image('release').gitVersion, MODERN_TAG)

  // What each image's kube-apiserver has compiled in, as its --help says: DenyAttach on the branch only.
  const help = async (which: keyof typeof images): Promise<string> =>
    (await must(['docker', 'run', '--rm', '--network', 'none', '--entrypoint', WITH_NODE_KUBE_APISERVER[0]!, images[which], ...WITH_NODE_KUBE_APISERVER.slice(1), 'kube-apiserver', '--help'])).stdout
  assert.ok((await help('denyattach')).split('\n').includes(ENABLE_HELP), 'the branch lists DenyAttach')
  const released = await help('release')
  assert.ok(released.split('\n').includes(ENABLE_HELP.replace('DenyAttach, ', '')), released)
  assert.not.match(released, 'DenyAttach')
})

test('create cluster: the map-form patch enables DenyAttach; nodes, labels, kubeconfig and messages as kind has them', async () => {
  const name = names.map
  const kubeconfig = kubeconfigOf(name)
  const config = await writeConfig(name, MAP_FORM)
  const r = await kind(['create', 'cluster', '--name', name, '--image', images.denyattach, '--config', config, '--kubeconfig', kubeconfig, '--wait', '60s'])
  assert.is(r.exitCode, 0, r.output)
  assert.is(r.stdout, '')
  const lines = said(r).split('\n')
  assert.is(lines[0], `Creating cluster "${name}" ...`)
  assert.equal(lines.slice(1, 15), createSteps(2, true, images.denyattach))
  assert.equal(lines.slice(15, 17), [' • Waiting ≤ 1m0s for control-plane = Ready ⏳  ...', ' ✓ Waiting ≤ 1m0s for control-plane = Ready ⏳'])
  assert.match(lines[17]!, /^ • Ready after \d+s 💚$/)
  assert.equal(lines.slice(18, 23), [`Set kubectl context to "kind-${name}"`, 'You can now use your cluster with:', '', `kubectl cluster-info --context kind-${name} --kubeconfig ${kubeconfig}`, ''])

  for (const [node, role] of [[`${name}-control-plane`, 'control-plane'], [`${name}-worker`, 'worker']]) {
    assert.is(await inspect(node!, '{{index .Config.Labels "io.x-k8s.kind.cluster"}} {{index .Config.Labels "io.x-k8s.kind.role"}} {{.Config.Hostname}} {{.State.Running}}'), `${name} ${role} ${node} true`)
  }
  const written = await readFile(kubeconfig, 'utf8')
  assert.match(written, new RegExp(`^current-context: kind-${name}$`, 'm'))
  assert.match(written, new RegExp(`^ {2}name: kind-${name}$`, 'm'))
})

test('the real kubectl: nodes Ready, the server runs the build, a pod runs, attach is Forbidden with the patch message', async () => {
  const cluster = kindCluster(names.map, kubeconfigOf(names.map), { env: { HOME: home } })
  const { logs, attach } = await articleTest(cluster)
  const nodes = await must(['kubectl', 'get', 'nodes', '-o', 'name'], { env: { HOME: home, KUBECONFIG: cluster.kubeconfig } })
  assert.is(nodes.stdout, `node/${names.map}-control-plane\nnode/${names.map}-worker\n`)
  const version = JSON.parse((await must(['kubectl', 'version', '-o', 'json'], { env: { HOME: home, KUBECONFIG: cluster.kubeconfig } })).stdout) as { serverVersion: { gitVersion: string } }
  assert.is(version.serverVersion.gitVersion, image('denyattach').gitVersion)
  assert.match(logs.stdout, /UTC \d{4}$/m)
  assert.is(attach.exitCode, 1, attach.output)
  assert.match(attach.stderr, `Error from server (Forbidden): pods "mypod" is forbidden: ${messages.denyattach}`)
  // kubeadm gave the API server the patch's value.
  assert.equal(enableFlags(await apiServerCommand(names.map)), ['--enable-admission-plugins=NodeRestriction,DenyAttach'])
})

test('the list form in the node patch enables it too; without a patch attach is allowed', async () => {
  const list = names.list
  const r = await kind(['create', 'cluster', '--name', list, '--image', images.denyattach, '--config', await writeConfig(list, LIST_FORM), '--kubeconfig', kubeconfigOf(list)])
  assert.is(r.exitCode, 0, r.output)
  assert.equal(said(r).split('\n').slice(1, 13), createSteps(1, false, images.denyattach))
  const denied = await articleTest(kindCluster(list, kubeconfigOf(list), { env: { HOME: home } }), 1)
  assert.is(denied.attach.exitCode, 1, denied.attach.output)
  assert.match(denied.attach.stderr, messages.denyattach)
  // The list item replaces kubeadm's default NodeRestriction.
  assert.equal(enableFlags(await apiServerCommand(list)), ['--enable-admission-plugins=DenyAttach'])

  // No config at all: kind's default cluster of one node, kubeadm's default --enable-admission-plugins.
  const off = names.off
  const created = await kind(['create', 'cluster', '--name', off, '--image', images.denyattach, '--kubeconfig', kubeconfigOf(off)])
  assert.is(created.exitCode, 0, created.output)
  const allowed = await articleTest(kindCluster(off, kubeconfigOf(off), { env: { HOME: home } }), 1)
  assert.is(allowed.attach.exitCode, -1, `attach was still streaming when stopped:\n${allowed.attach.output}`)
  assert.match(allowed.attach.stdout, /UTC \d{4}$/m)
  assert.not.match(allowed.attach.output, 'Forbidden')
})

test('without a patch, the API server pod shows kubeadm\'s default admission flag, and its kube-apiserver --help lists DenyAttach', async () => {
  const off = names.off
  const node = `${off}-control-plane`
  const address = (await kubectl(off, ['get', 'node', node, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address}'])).stdout
  assert.match(address, /^172\.18\.\d+\.\d+$/)
  const pki = '/etc/kubernetes/pki'
  assert.equal(await apiServerCommand(off), [
    'kube-apiserver',
    `--advertise-address=${address}`,
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    `--client-ca-file=${pki}/ca.crt`,
    '--enable-admission-plugins=NodeRestriction',
    '--enable-bootstrap-token-auth=true',
    `--etcd-cafile=${pki}/etcd/ca.crt`,
    `--etcd-certfile=${pki}/apiserver-etcd-client.crt`,
    `--etcd-keyfile=${pki}/apiserver-etcd-client.key`,
    '--etcd-servers=https://127.0.0.1:2379',
    `--kubelet-client-certificate=${pki}/apiserver-kubelet-client.crt`,
    `--kubelet-client-key=${pki}/apiserver-kubelet-client.key`,
    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
    `--proxy-client-cert-file=${pki}/front-proxy-client.crt`,
    `--proxy-client-key-file=${pki}/front-proxy-client.key`,
    '--requestheader-allowed-names=front-proxy-client',
    `--requestheader-client-ca-file=${pki}/front-proxy-ca.crt`,
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-username-headers=X-Remote-User',
    '--runtime-config=',
    '--secure-port=6443',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki}/sa.pub`,
    `--service-account-signing-key-file=${pki}/sa.key`,
    '--service-cluster-ip-range=10.96.0.0/16',
    `--tls-cert-file=${pki}/apiserver.crt`,
    `--tls-private-key-file=${pki}/apiserver.key`,
  ])
  const pod = JSON.parse((await kubectl(off, ['-n', 'kube-system', 'get', 'pod', `kube-apiserver-${node}`, '-o', 'json'])).stdout) as {
    metadata: { labels: Record<string, string>; annotations: Record<string, string>; ownerReferences: { kind: string; name: string }[] }
    spec: { nodeName: string; containers: { name: string; image: string }[] }
    status: { phase: string; podIP: string }
  }
  assert.equal(pod.metadata.labels, { component: 'kube-apiserver', tier: 'control-plane' })
  assert.is(pod.metadata.annotations['kubernetes.io/config.source'], 'file')
  assert.match(pod.metadata.annotations['kubernetes.io/config.mirror'] ?? '', /^[0-9a-f]{32}$/)
  assert.is(pod.metadata.annotations['kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint'], `${address}:6443`)
  assert.equal(pod.metadata.ownerReferences.map((o) => [o.kind, o.name]), [['Node', node]])
  assert.is(pod.spec.nodeName, node)
  assert.equal(pod.spec.containers.map((c) => [c.name, c.image]), [['kube-apiserver', `registry.k8s.io/kube-apiserver:${image('denyattach').gitVersion.replace('+', '_')}`]])
  assert.equal([pod.status.phase, pod.status.podIP], ['Running', address])

  // Every namespace's pods, the article's pod and the API server's, in kubectl's table.
  const all = (await kubectl(off, ['get', 'pods', '-A'])).stdout.trim().split('\n').map((line) => line.split(/\s{2,}/).slice(0, 5))
  assert.equal(all, [
    ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS'],
    ['default', 'mypod', '1/1', 'Running', '0'],
    ['kube-system', `kube-apiserver-${node}`, '1/1', 'Running', '0'],
  ])

  // What is compiled in: the node image's kube-apiserver, run in the pod.
  const help = await kubectl(off, ['-n', 'kube-system', 'exec', `kube-apiserver-${node}`, '--', 'kube-apiserver', '--help'])
  assert.is(help.exitCode, 0, help.output)
  assert.match(help.stdout, /^Usage:\n {2}kube-apiserver \[flags\]$/m)
  assert.ok(help.stdout.split('\n').includes(ENABLE_HELP), help.stdout)
  assert.is(help.stderr, '')
  // Exit codes and both streams come through as for any exec.
  const failing = await kubectl(off, ['-n', 'kube-system', 'exec', `kube-apiserver-${node}`, '--', 'sh', '-c', 'kube-apiserver --version; echo oops >&2; exit 3'])
  assert.is(failing.exitCode, 3, failing.output)
  assert.is(failing.stdout, `Kubernetes ${image('denyattach').gitVersion}\n`)
  assert.is(failing.stderr, 'oops\ncommand terminated with exit code 3\n')
})

test('get clusters, nodes and kubeconfig read the clusters back by label', async () => {
  const clusters = await kind(['get', 'clusters'])
  assert.is(clusters.exitCode, 0)
  const listed = clusters.stdout.split('\n').filter(Boolean)
  assert.equal(listed, [...listed].sort(), 'sorted')
  for (const name of [names.map, names.list, names.off]) assert.ok(listed.includes(name), `${name} in ${clusters.stdout}`)

  const nodes = await kind(['get', 'nodes', '--name', names.map])
  assert.equal(nodes.stdout.split('\n').filter(Boolean).sort(), [`${names.map}-control-plane`, `${names.map}-worker`])
  const none = await kind(['get', 'nodes', '--name', `k${id}-none`])
  assert.is(none.exitCode, 0)
  assert.is(none.stderr, `No kind nodes found for cluster "k${id}-none".\n`)

  const external = await kind(['get', 'kubeconfig', '--name', names.map])
  assert.is(external.exitCode, 0, external.output)
  const server = /^ {4}server: (.*)$/m.exec(await readFile(kubeconfigOf(names.map), 'utf8'))?.[1]
  assert.match(external.stdout, `    server: ${server}\n`)
  assert.match(external.stdout, `current-context: kind-${names.map}\n`)
  const internal = await kind(['get', 'kubeconfig', '--name', names.map, '--internal'])
  assert.match(internal.stdout, `    server: https://${names.map}-control-plane:6443\n`)
  const missing = await kind(['get', 'kubeconfig', '--name', `k${id}-none`])
  assert.is(missing.exitCode, 1)
  assert.is(missing.stderr, `ERROR: could not locate any control plane nodes for cluster named 'k${id}-none'. Use the --name option to select a different cluster\n`)
})

test("create refuses a name that is taken or invalid, and a config it cannot decode, in kind's words", async () => {
  const taken = await kind(['create', 'cluster', '--name', names.off, '--image', images.denyattach])
  assert.is(taken.exitCode, 1)
  assert.is(said(taken), `ERROR: failed to create cluster: node(s) already exist for a cluster with the name "${names.off}"\n`)
  assert.is(taken.stdout, '')

  const invalid = await kind(['create', 'cluster', '--name', 'My_Cluster', '--image', images.denyattach])
  assert.is(invalid.exitCode, 1)
  assert.is(said(invalid), "ERROR: failed to create cluster: 'My_Cluster' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`\n")

  const typo = await writeConfig('typo', 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodez:\n- role: control-plane\n')
  const undecodable = await kind(['create', 'cluster', '--name', `k${id}-typo`, '--config', typo])
  assert.is(undecodable.exitCode, 1)
  assert.is(said(undecodable), 'ERROR: failed to create cluster: unable to decode config: yaml: unmarshal errors:\n  line 3: field nodez not found in type v1alpha4.Cluster\n')

  const quiet = await kind(['create', 'cluster', '--name', names.off, '-q'])
  assert.is(quiet.exitCode, 1)
  assert.is(quiet.stderr, '', '-q silences even the error')
})

test('a node image whose build lacks DenyAttach cannot enable it: create fails at the control plane and cleans up', async () => {
  const name = names.wrong
  const r = await kind(['create', 'cluster', '--name', name, '--image', images.release, '--config', await writeConfig(name, MAP_FORM), '--kubeconfig', kubeconfigOf(name)])
  assert.is(r.exitCode, 1)
  const lines = said(r).split('\n')
  assert.equal(lines.slice(7, 9), [' • Starting control-plane 🕹️  ...', ' ✗ Starting control-plane 🕹️'])
  assert.equal(deletedNodes(lines[9]), [`${name}-control-plane`, `${name}-worker`])
  assert.is(lines[10], `ERROR: failed to create cluster: failed to init node with kubeadm: command "docker exec ${name}-control-plane kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: exit status 1`)
  assert.equal(lines.slice(11), ['', 'Command Output: kube-apiserver: enable-admission-plugins plugin "DenyAttach" is unknown', ''])
  assert.is((await must(['docker', 'ps', '-a', '--filter', `label=io.x-k8s.kind.cluster=${name}`, '--format', '{{.Names}}'])).stdout, '')
})

test('--wait that runs out is a warning: exit 0, and the cluster is there', async () => {
  const name = `k${id}-slow`
  const kubeconfig = kubeconfigOf(name)
  try {
    const r = await kind(['create', 'cluster', '--name', name, '--image', images.denyattach, '--kubeconfig', kubeconfig, '--wait', '1s'], { KSPAWN_WORLD_NODE_READY_SECONDS: '30' })
    assert.is(r.exitCode, 0, r.output)
    assert.match(said(r), ' • Waiting ≤ 1s for control-plane = Ready ⏳  ...\n ✗ Waiting ≤ 1s for control-plane = Ready ⏳\n • WARNING: Timed out waiting for Ready ⚠️\nSet kubectl context to')
    assert.ok(existsSync(kubeconfig))
  } finally {
    await kind(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig])
  }
})

test('delete cluster removes the nodes, the API server, the pods and the kubeconfig entries; again, it is a no-op', async () => {
  const name = names.map
  const kubeconfig = kubeconfigOf(name)
  const apiserver = JSON.parse(await readFile(join(world().KSPAWN_WORLD_STATE, 'kind', name, 'apiserver.json'), 'utf8')) as { pid: number }
  assert.ok(isAlive(apiserver.pid))
  const pods = (await must(['docker', 'ps', '-aq', '--filter', `label=io.kspawn.world.cluster=${name}`])).stdout
  assert.is.not(pods, '', 'the cluster has a pod container')

  const first = await kind(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig])
  assert.is(first.exitCode, 0, first.output)
  const [deleting, deleted, end] = first.stderr.split('\n')
  assert.is(deleting, `Deleting cluster "${name}" ...`)
  assert.equal(deletedNodes(deleted), [`${name}-control-plane`, `${name}-worker`])
  assert.is(end, '', 'nothing more')
  assert.is(first.stderr.split('\n').length, 3)
  assert.not.ok(isAlive(apiserver.pid), 'the API server is stopped')
  assert.is((await must(['docker', 'ps', '-aq', '--filter', `label=io.kspawn.world.cluster=${name}`])).stdout, '', 'its pods are gone')
  assert.is((await must(['docker', 'ps', '-aq', '--filter', `label=io.x-k8s.kind.cluster=${name}`])).stdout, '', 'its nodes are gone')
  assert.not.match(await readFile(kubeconfig, 'utf8'), `kind-${name}`)

  const again = await kind(['delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig])
  assert.is(again.exitCode, 0)
  assert.is(again.stderr, `Deleting cluster "${name}" ...\n`)

  for (const other of [names.list, names.off]) assert.is((await kind(['delete', 'cluster', '--name', other, '--kubeconfig', kubeconfigOf(other)])).exitCode, 0)
  const left = await kind(['get', 'clusters'])
  assert.is(left.stdout, '')
  assert.is(left.stderr, 'No kind clusters found.\n')
})

test.run()
