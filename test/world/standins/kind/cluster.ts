// kind's cluster lifecycle (pkg/cluster/internal/create, delete, kubeconfig)
// in the test world: create provisions the node containers and runs kind's
// actions (config, kubeadm init, CNI, storage, kubeadm join, wait), with the
// world's API server emulator as the control plane; delete removes what
// create made; get reads it back by label.
//
// The control plane: in kind, `kubeadm init` writes static pods that the
// control-plane node's kubelet runs from the images of the node image. Here
// the emulator (test/world/apiserver) stands in for them, one process per
// cluster, started just before kubeadm init (which then finds it on
// 127.0.0.1:6443 in the node). Its version and admission plugins come from
// the kube-apiserver binary in the node image's kube-apiserver.tar, read
// through docker; its admission flags from the command of the static pod
// kubeadm writes from the kubeadm config kind wrote for the node. It serves
// that pod as the mirror pod kube-system/kube-apiserver-<node>, and an exec
// into it runs in the node with the node image's kube-apiserver. Its files
// are in <state>/kind/<cluster>/ (apiserver-spec.json, apiserver.json with
// its pid and URL, apiserver.log).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile, rm, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LABEL_MASTER } from '../../apiserver/kubelet.ts'
import type { MachineSpec, ReadyInfo } from '../../apiserver/spec.ts'
import { emulatorPid, logFileName, readyFileName, startEmulator, stopEmulator } from '../emulator.ts'
import { CONTROL_PLANE_ROLE, parseConfig, validate, withDefaults, WORKER_ROLE, type ClusterConfig } from './config.ts'
import { goQuote, goQuoteList, RunError, shellQuote, wrap } from './errors.ts'
import { exec, outputLines } from './exec.ts'
import { admissionFlags, API_SERVER_PORT, apiServerPod, kubeadmConfig, lessThan, parseVersion, type KubeadmConfig } from './kubeadm.ts'
import { contextFor, encode, fromKubeadm, removeCluster, writeMerged } from './kubeconfig.ts'
import { Status, type Logger } from './log.ts'
import {
  createNodes,
  deleteNodes,
  kubeVersion,
  listNodes,
  LOAD_BALANCER_ROLE,
  nodeAddress,
  nodeCommandArgv,
  nodeExec,
  nodeRole,
  planNodes,
  writeNodeFile,
  type PlannedNode,
} from './nodes.ts'

/** Where the world keeps each kind cluster's API server files: <state>/kind/<cluster>/. */
export function clustersDir(): string {
  const state = process.env.KSPAWN_WORLD_STATE
  if (state) return join(state, 'kind')
  return join(tmpdir(), `kind-world-${createHash('sha256').update(process.env.DOCKER_HOST ?? 'default').digest('hex').slice(0, 12)}`)
}

export function clusterDir(cluster: string): string {
  return join(clustersDir(), cluster)
}

/** The emulator's URL, as its ready file recorded it. */
function recordedServer(cluster: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(clusterDir(cluster), readyFileName), 'utf8')) as ReadyInfo).url
  } catch {
    return undefined
  }
}

/**
 * Runs the argv that follows it in a node of the node image with the
 * kube-apiserver of kube-apiserver.tar (a `docker save` archive) as
 * `kube-apiserver`, first on PATH: the binary is taken out of the image's
 * layers as containerd would unpack them, into a directory under /var/lib
 * (kind's /tmp is a noexec tmpfs) that is removed afterwards; the argv runs
 * in / and its exit status is the script's.
 */
export const WITH_NODE_KUBE_APISERVER = [
  'sh',
  '-c',
  [
    'archive=/kind/images/kube-apiserver.tar',
    // Not under /tmp: kind mounts a noexec tmpfs there.
    'work=$(mkdir -p /var/lib && mktemp -d /var/lib/kube-apiserver.XXXXXX) || exit 1',
    'cd "$work" && tar -xf "$archive" manifest.json || exit 1',
    'for layer in $(sed -e \'s/.*"Layers":\\[//\' -e \'s/\\].*//\' -e \'s/"//g\' -e \'s/,/ /g\' manifest.json); do',
    '  tar -xOf "$archive" "$layer" | tar -xf - usr/local/bin/kube-apiserver 2>/dev/null',
    'done',
    'cd / && PATH="$work/usr/local/bin:$PATH" "$@"',
    'status=$?',
    'rm -rf "$work"',
    'exit $status',
  ].join('\n'),
  'sh',
]

/** Prints the API server's build info, run in a node of the node image. */
export const APISERVER_BUILD_INFO = [...WITH_NODE_KUBE_APISERVER, 'kube-apiserver', '--build-info']

export interface CreateOptions {
  /** --name, else KIND_CLUSTER_NAME ('' when neither). */
  name: string
  /** --config: a file, "-" for stdin, '' for none. */
  config: string
  image: string
  retain: boolean
  /** --wait, in milliseconds. */
  waitMs: number
  kubeconfig: string
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function loadConfig(path: string): Promise<ClusterConfig> {
  if (path === '') return withDefaults()
  let raw: string
  try {
    raw = path === '-' ? await readStdin() : await readFile(path, 'utf8')
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    throw wrap(new Error(e.code === 'ENOENT' ? `open ${path}: no such file or directory` : e.message), 'error reading file')
  }
  return parseConfig(raw)
}

/** Go's time.Duration.String() of a whole number of seconds (after Round(time.Second)). */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000)
  if (total === 0) return '0s'
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const s = total % 60
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`
}

const SALUTATIONS = [
  'Have a nice day! 👋',
  'Thanks for using kind! 😊',
  'Not sure what to do next? 😅  Check out https://kind.sigs.k8s.io/docs/user/quick-start/',
  'Have a question, bug, or feature request? Let us know! https://kind.sigs.k8s.io/#community 🙂',
]

interface ApiResult {
  status: number
  body: unknown
}

async function api(server: string, method: string, path: string, body?: unknown): Promise<ApiResult> {
  const response = await fetch(`${server}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/merge-patch+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: await response.json().catch(() => undefined) }
}

interface NodeObject {
  metadata: { name: string; labels?: Record<string, string> }
  spec?: { taints?: { key: string; effect: string }[] }
  status?: { conditions?: { type: string; status: string }[] }
}

/** Everything `kind create cluster` does after its checks; any failure is thrown for create to clean up after. */
class Creation {
  readonly status: Status
  server = ''

  constructor(
    readonly logger: Logger,
    readonly config: ClusterConfig,
    readonly nodes: PlannedNode[],
  ) {
    this.status = new Status(logger)
  }

  get name(): string {
    return this.config.name
  }

  private get kubeNodes(): PlannedNode[] {
    return this.nodes.filter((n) => n.role !== LOAD_BALANCER_ROLE)
  }

  private get bootstrap(): PlannedNode {
    return this.nodes.find((n) => n.role === CONTROL_PLANE_ROLE)!
  }

  /** Provision: the node images (pulled if missing), then the containers. */
  async provision(): Promise<void> {
    for (const image of [...new Set(this.config.nodes.map((n) => n.image))].sort()) {
      this.status.start(`Ensuring node image (${image.split('@sha256:')[0]}) 🖼`)
      try {
        await pullIfNotPresent(image)
      } catch (error) {
        this.status.end(false)
        throw error
      }
    }
    this.status.start(`Preparing nodes ${'📦 '.repeat(this.config.nodes.length)}`)
    try {
      await createNodes(this.name, this.nodes)
    } catch (error) {
      this.status.end(false)
      throw error
    }
    this.status.end(true)
  }

  /** The config action: each node's /kind/kubeadm.conf. */
  async writeConfiguration(): Promise<KubeadmConfig> {
    this.status.start('Writing configuration 📜')
    const lb = this.nodes.find((n) => n.role === LOAD_BALANCER_ROLE)
    const controlPlaneEndpoint = `${(lb ?? this.bootstrap).name}:${API_SERVER_PORT}`
    const configs = await Promise.all(
      this.kubeNodes.map(async (node, i) => {
        let version: string
        try {
          version = await kubeVersion(node.name)
        } catch (error) {
          throw wrap(wrap(error, 'failed to get kubernetes version from node'), 'failed to generate kubeadm config content')
        }
        const generated = kubeadmConfig(this.config, this.config.nodes[i]!, {
          clusterName: this.name,
          nodeName: node.name,
          nodeAddress: await nodeAddress(node.name),
          kubernetesVersion: version,
          controlPlaneEndpoint,
        })
        this.logger.debug(2, 'config/config.go:103', `Using the following kubeadm config for node ${node.name}:\n${generated.text}`)
        await writeNodeFile(node.name, '/kind/kubeadm.conf', generated.text)
        return generated
      }),
    )
    this.status.end(true)
    return configs[this.kubeNodes.indexOf(this.bootstrap)]!
  }

  /** The kubeadminit action, with the world's API server started as kubeadm's static pods would be. */
  async startControlPlane(bootstrapConfig: KubeadmConfig): Promise<void> {
    this.status.start('Starting control-plane 🕹️')
    const node = this.bootstrap.name
    const init = nodeCommandArgv(node, ['kubeadm', 'init', '--config=/kind/kubeadm.conf', '--skip-token-print', '--v=6'])
    // What kubeadm init writes as the API server's static pod; the API server reads its flags from that command.
    const pod = apiServerPod(bootstrapConfig.docs)
    const flags = admissionFlags(pod.command)
    const dir = clusterDir(this.name)
    await mkdir(dir, { recursive: true })
    try {
      const seconds = Number(process.env.KSPAWN_WORLD_NODE_READY_SECONDS || '2')
      const machines: MachineSpec[] = await Promise.all(
        this.kubeNodes.map(async (n) => ({ name: n.name, role: n === this.bootstrap ? ('master' as const) : ('node' as const), address: await nodeAddress(n.name) })),
      )
      const info = await startEmulator(dir, {
        clusterName: this.name,
        image: this.bootstrap.image,
        machines,
        nodeReadySeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 2,
        masterPort: API_SERVER_PORT,
        buildInfoCommand: APISERVER_BUILD_INFO,
        enableAdmissionPlugins: flags.enable,
        disableAdmissionPlugins: flags.disable,
        apiServerPod: { ...pod, execPrefix: WITH_NODE_KUBE_APISERVER },
      })
      this.server = info.url
    } catch (error) {
      // kubeadm would wait for an API server that never comes; the API server's own error says why.
      const message = (error as Error).message
      const reason = /^apiserver: (.*)$/m.exec(message)?.[1] ?? message
      throw wrap(new RunError(init, `kube-apiserver: ${reason}\n`, 'exit status 1'), 'failed to init node with kubeadm')
    }
    let output: string
    try {
      output = (await exec(init)).combined
    } catch (error) {
      if (error instanceof RunError) this.logger.debug(3, 'kubeadminit/init.go:93', error.output.trimEnd())
      throw wrap(error, 'failed to init node with kubeadm')
    }
    this.logger.debug(3, 'kubeadminit/init.go:93', output.trimEnd())
    if (this.kubeNodes.length === 1) await this.untaintSingleNode()
    this.status.end(true)
  }

  /** One node is control plane and worker: kind takes the control-plane taint and load balancer label off it. */
  private async untaintSingleNode(): Promise<void> {
    const version = parseVersion(await kubeVersion(this.bootstrap.name))
    const keys =
      version && lessThan(version, parseVersion('v1.24.0-alpha.1.592+370031cadac624')!)
        ? ['node-role.kubernetes.io/master']
        : version && lessThan(version, parseVersion('v1.25.0-alpha.0.557+84c8afeba39ec9')!)
          ? ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master']
          : ['node-role.kubernetes.io/control-plane']
    try {
      const listed = await api(this.server, 'GET', '/api/v1/nodes')
      for (const n of ((listed.body as { items?: NodeObject[] })?.items ?? [])) {
        const taints = (n.spec?.taints ?? []).filter((t) => !keys.includes(t.key))
        const patched = await api(this.server, 'PATCH', `/api/v1/nodes/${n.metadata.name}`, {
          metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': null } },
          spec: { taints: taints.length > 0 ? taints : null },
        })
        if (patched.status !== 200) throw new Error(`PATCH /api/v1/nodes/${n.metadata.name}: ${patched.status}`)
      }
    } catch (error) {
      throw wrap(error, 'failed to remove control plane taint')
    }
  }

  /** The installcni and installstorage actions: kind applies these manifests of the node image; the world has nothing to run them. */
  async installManifest(status: string, path: string, what: string): Promise<void> {
    this.status.start(status)
    try {
      await nodeExec(this.bootstrap.name, ['cat', path])
    } catch (error) {
      throw wrap(error, `failed to read ${what}`)
    }
    this.status.end(true)
  }

  /** The kubeadmjoin action: every worker side by side (more control planes: not in the world, see create). */
  async joinWorkers(): Promise<void> {
    const workers = this.kubeNodes.filter((n) => n.role === WORKER_ROLE)
    if (workers.length === 0) return
    this.status.start('Joining worker nodes 🚜')
    await Promise.all(
      workers.map(async (w) => {
        const version = parseVersion(await kubeVersion(w.name))
        const join = ['kubeadm', 'join', '--config', '/kind/kubeadm.conf', '--v=6']
        if (version && lessThan(version, parseVersion('v1.23.0')!)) join.push('--skip-phases=preflight')
        try {
          const output = (await exec(nodeCommandArgv(w.name, join))).combined
          this.logger.debug(3, 'kubeadmjoin/join.go:144', output.trimEnd())
        } catch (error) {
          throw wrap(error, 'failed to join node with kubeadm')
        }
      }),
    )
    this.status.end(true)
  }

  /** The waitforready action: the control-plane nodes' last condition True, asked of the API server. */
  async waitForReady(waitMs: number): Promise<void> {
    if (waitMs === 0) return
    this.status.start(`Waiting ≤ ${formatDuration(waitMs)} for control-plane = Ready ⏳`)
    const started = Date.now()
    const until = started + waitMs
    const ready = async (): Promise<boolean> => {
      try {
        const listed = await api(this.server, 'GET', '/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fcontrol-plane')
        const items = (listed.body as { items?: NodeObject[] })?.items ?? []
        return items.length > 0 && items.every((n) => n.status?.conditions?.at(-1)?.status === 'True')
      } catch {
        return false
      }
    }
    while (Date.now() < until) {
      if (await ready()) {
        this.status.end(true)
        this.logger.info(` • Ready after ${formatDuration(Date.now() - started)} 💚`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    this.status.end(false)
    this.logger.info(' • WARNING: Timed out waiting for Ready ⚠️')
  }

  /** kubeconfig.Export: admin.conf of the control plane, kind's names, the host endpoint; merged into the kubeconfig. */
  async exportKubeconfig(explicit: string): Promise<void> {
    const raw = await nodeExec(this.bootstrap.name, ['cat', '/etc/kubernetes/admin.conf'])
    const kind = fromKubeadm(raw, this.name, this.server)
    let last: unknown
    for (const backoff of [0, 1, 50, 100]) {
      await new Promise((resolve) => setTimeout(resolve, backoff))
      try {
        await writeMerged(kind, explicit)
        return
      } catch (error) {
        last = error
      }
    }
    throw last
  }
}

async function pullIfNotPresent(image: string): Promise<void> {
  try {
    await exec(['docker', 'inspect', '--type=image', image])
    return
  } catch {
    // not here: pull it
  }
  let last: unknown
  for (let i = 0; i <= 4; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, i * 1000))
    try {
      await exec(['docker', 'pull', image])
      return
    } catch (error) {
      last = error
    }
  }
  throw wrap(last, `failed to pull image ${goQuote(image)}`)
}

/** `kind create cluster`. */
export async function createCluster(logger: Logger, options: CreateOptions): Promise<void> {
  try {
    await create(logger, options)
  } catch (error) {
    throw wrap(error, 'failed to create cluster')
  }
}

async function create(logger: Logger, options: CreateOptions): Promise<void> {
  let info: { CgroupVersion?: string }
  try {
    info = JSON.parse((await exec(['docker', 'info', '--format', '{{json .}}'])).stdout) as { CgroupVersion?: string }
  } catch (error) {
    throw wrap(error, 'failed to get docker info')
  }
  if (info.CgroupVersion !== '2') logger.info('cgroup v1 is deprecated in Kubernetes and will not be supported in a future kind release, please upgrade to cgroup v2')

  const config = await loadConfig(options.config)
  if (options.name !== '') config.name = options.name
  if (options.image !== '') for (const node of config.nodes) node.image = options.image
  if ((await listNodes(config.name)).length > 0) throw new Error(`node(s) already exist for a cluster with the name ${goQuote(config.name)}`)
  if (config.name.length > 50) logger.info(`cluster name ${goQuote(config.name)} is probably too long, this might not work properly on some systems`)
  const invalid = validate(config)
  if (invalid) throw invalid

  // What an earlier cluster of this name left of the world's side (its nodes are gone) goes first.
  await forgetEmulator(config.name)
  logger.info(`Creating cluster ${goQuote(config.name)} ...\n`)
  const creation = new Creation(logger, config, planNodes(config))
  const cleanUp = async (): Promise<void> => {
    if (!options.retain) await deleteCluster(logger, config.name, options.kubeconfig).catch(() => undefined)
  }
  try {
    await creation.provision()
  } catch (error) {
    await cleanUp()
    throw error
  }
  try {
    if (config.nodes.filter((n) => n.role === CONTROL_PLANE_ROLE).length > 1) {
      // Reached only if the load balancer's image could be run: the world has no envoy to configure.
      creation.status.start('Configuring the external load balancer ⚖️')
      throw new Error('the test world cannot configure an external load balancer: one control-plane node only')
    }
    const bootstrapConfig = await creation.writeConfiguration()
    await creation.startControlPlane(bootstrapConfig)
    if (!config.networking.disableDefaultCNI) await creation.installManifest('Installing CNI 🔌', '/kind/manifests/default-cni.yaml', 'CNI manifest')
    await creation.installManifest('Installing StorageClass 💾', '/kind/manifests/default-storage.yaml', 'StorageClass manifest')
    await creation.joinWorkers()
    await creation.waitForReady(options.waitMs)
  } catch (error) {
    creation.status.end(false)
    await cleanUp()
    throw error
  }
  await creation.exportKubeconfig(options.kubeconfig)
  const context = contextFor(config.name)
  logger.info(`Set kubectl context to "${context}"`)
  logger.info(`You can now use your cluster with:\n\nkubectl cluster-info --context ${context}${options.kubeconfig === '' ? '' : ` --kubeconfig ${shellQuote(options.kubeconfig)}`}`)
  logger.info('')
  logger.info(SALUTATIONS[Math.floor(Math.random() * SALUTATIONS.length)]!)
}

/** The world's side of a cluster: its API server (which removes the pods' containers as it stops) and its files. */
async function forgetEmulator(cluster: string): Promise<void> {
  const dir = clusterDir(cluster)
  await stopEmulator(dir)
  await rm(dir, { recursive: true, force: true })
}

/** `kind delete cluster`: the kubeconfig entries, then the nodes; a cluster that is gone is no error. */
export async function deleteCluster(logger: Logger, cluster: string, explicitKubeconfig: string): Promise<void> {
  const nodes = await listNodes(cluster)
  let kubeconfigError: Error | undefined
  try {
    await removeCluster(cluster, explicitKubeconfig)
  } catch (error) {
    kubeconfigError = error as Error
    logger.info(`failed to update kubeconfig: ${kubeconfigError.message}`)
  }
  // The pods' containers ran in the nodes: they go with them, API server or not.
  const ids = nodes.length === 0 ? [] : await outputLines(['docker', 'inspect', '--format', '{{.Id}}', ...nodes]).catch(() => [])
  await forgetEmulator(cluster)
  for (const id of ids) {
    const pods = await outputLines(['docker', 'ps', '-aq', '--filter', `label=${LABEL_MASTER}=${id}`]).catch(() => [])
    if (pods.length > 0) await exec(['docker', 'rm', '-f', ...pods]).catch(() => undefined)
  }
  if (nodes.length > 0) {
    await deleteNodes(nodes)
    logger.info(`Deleted nodes: ${goQuoteList(nodes)}`)
  }
  if (kubeconfigError) throw kubeconfigError
}

/** `kind get kubeconfig`: the control plane's admin.conf with kind's names; the host endpoint, or with --internal the one in the file. */
export async function getKubeconfig(cluster: string, internal: boolean): Promise<string> {
  const nodes = await listNodes(cluster)
  const controlPlanes: string[] = []
  for (const node of nodes) if ((await nodeRole(node)) === CONTROL_PLANE_ROLE) controlPlanes.push(node)
  if (controlPlanes.length === 0) {
    throw new Error(`could not locate any control plane nodes for cluster named '${cluster}'. Use the --name option to select a different cluster`)
  }
  controlPlanes.sort()
  const raw = await nodeExec(controlPlanes[0]!, ['cat', '/etc/kubernetes/admin.conf'])
  let server = ''
  if (!internal) {
    server = recordedServer(cluster) ?? ''
    if (server === '' || emulatorPid(clusterDir(cluster)) === null) {
      throw new Error(`failed to get api server endpoint: the API server of cluster ${goQuote(cluster)} is not running (see ${join(clusterDir(cluster), logFileName)})`)
    }
  }
  return encode(fromKubeadm(raw, cluster, server))
}
