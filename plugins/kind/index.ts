// kind as a deployer: one kind cluster per variant, its nodes containers of
// a node image that the node-image step builds from the variant's tree with
// `kind build node-image` (or that use-node-image pulls). Config files import
// this module, so it loads nothing heavy: the steps are loaded when a run
// needs them, and every command runs through the StepIO that tasks hand in.
//
// Supported: kind v0.26.0 and later (the Kubernetes tree is build node-image's
// argument, --kube-root is gone); for Kubernetes 1.36 and later, whose kubeadm
// config is v1beta4, kind v0.32.0 and later. kspawn doctor checks the version.
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Variant } from '../../engine/config/config.ts'
import { isCommandError, StepError } from '../../engine/errors.ts'
import type { ClusterImage, ClusterSpec, ClusterStatus, Deployer, StepIO } from '../../engine/plugin.ts'
import type { Task, TaskContext } from '../../engine/run/task.ts'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { exists, localImageId } from '../../tasks/docker.ts'

export interface KindOptions {
  /** Worker nodes in each cluster. Default 1. */
  workers?: number
  /** Control-plane nodes in each cluster; more than one puts kind's load balancer in front of them. Default 1. */
  controlPlanes?: number
  /** Admission plugins the API server enables besides its defaults (its --enable-admission-plugins), e.g. ['DenyAttach']. Default none. */
  admissionPlugins?: string[]
  /** kind cluster config (kind.x-k8s.io/v1alpha4 Cluster fields) merged into the one kspawn writes, e.g. { networking: { ipFamily: 'ipv4' } }. */
  config?: Record<string, unknown>
  /** Seconds `kind create cluster --wait` waits for the control plane to be Ready. Default 300. */
  waitSeconds?: number
  /** Seconds the nodes of a started cluster get to turn Ready before the smoke test fails. Default 300. */
  readySeconds?: number
  /** The base image of the node images kspawn builds (`kind build node-image --base-image`). Default: the one of your kind. */
  baseImage?: string
  /** Where each cluster's kubeconfig and kind config go: <dir>/<cluster>/. Absolute. Default: <workdir>/kind. Never your ~/.kube/config. */
  dir?: string
}

export interface KindDeployer extends Deployer {
  readonly name: 'kind'
  readonly options: Readonly<KindSettings>
  enableAdmissionPlugin(plugin: string, where: { configFile: string; variant: string }): string
}

type KindSettings = Required<Omit<KindOptions, 'baseImage' | 'dir' | 'config'>> & Pick<KindOptions, 'baseImage' | 'dir' | 'config'>

/** The label kind puts on every container of a cluster, and the one that says its role. */
export const CLUSTER_LABEL = 'io.x-k8s.kind.cluster'
export const ROLE_LABEL = 'io.x-k8s.kind.role'

/** Where node images kspawn builds or adopts are named, one tag per variant: not kindest/node:latest, which two variants would overwrite. */
export const NODE_REPOSITORY = 'kspawn/kind-node'

/** What kind prints when the name is taken: `ERROR: failed to create cluster: node(s) already exist for a cluster with the name "<name>"`. */
const ALREADY_EXISTS = 'node(s) already exist for a cluster with the name'
/** What kind prints, exiting 0, when --wait ran out before the control plane was Ready. */
const WAIT_TIMED_OUT = 'WARNING: Timed out waiting for Ready'

/** `kind build node-image <tree> --type source --image <image> [--base-image <base>]` (kind ≥ 0.26: the tree is an argument). */
export function buildNodeImageArgv(tree: string, image: string, baseImage?: string): string[] {
  return ['kind', 'build', 'node-image', tree, '--type', 'source', '--image', image, ...(baseImage === undefined ? [] : ['--base-image', baseImage])]
}

/** `kind create cluster --name <cluster> --image <image> --config <file> --kubeconfig <file> --wait <seconds>s`. */
export function createArgv(cluster: string, image: string, configFile: string, kubeconfig: string, waitSeconds: number): string[] {
  return ['kind', 'create', 'cluster', '--name', cluster, '--image', image, '--config', configFile, '--kubeconfig', kubeconfig, '--wait', `${waitSeconds}s`]
}

/** Removes the cluster's nodes and its entries in that kubeconfig; a cluster that is gone is no error. */
export function deleteArgv(cluster: string, kubeconfig: string): string[] {
  return ['kind', 'delete', 'cluster', '--name', cluster, '--kubeconfig', kubeconfig]
}

export function getClustersArgv(): string[] {
  return ['kind', 'get', 'clusters']
}

/** The cluster's containers, stopped ones too, as kind finds them: by its label. */
export function containersArgv(cluster: string): string[] {
  return ['docker', 'ps', '--all', '--filter', `label=${CLUSTER_LABEL}=${cluster}`, '--format', `{{.Names}}\t{{.State}}\t{{.Label "${ROLE_LABEL}"}}`]
}

export interface KindContainer {
  name: string
  running: boolean
  role: string
}

/** The lines of containersArgv(). */
export function parseContainers(stdout: string): KindContainer[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [name = '', state = '', role = ''] = line.split('\t')
      return { name, running: state === 'running', role }
    })
}

/**
 * The kind cluster config kspawn writes for a cluster: its nodes, and for the
 * admission plugins a kubeadm patch of the API server's extraArgs. The patch
 * names no apiVersion, so that kind ≥ 0.32 turns its map into the list that
 * kubeadm v1beta4 (Kubernetes ≥ 1.36) wants, and older ones use it as it is.
 * The config's own `config` is merged on top; its nodes replace kspawn's.
 */
export function clusterConfig(options: Pick<KindSettings, 'workers' | 'controlPlanes' | 'admissionPlugins' | 'config'>): Record<string, unknown> {
  const nodes = [...Array.from({ length: options.controlPlanes }, () => ({ role: 'control-plane' })), ...Array.from({ length: options.workers }, () => ({ role: 'worker' }))]
  const patches =
    options.admissionPlugins.length === 0
      ? []
      : [`kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    enable-admission-plugins: ${options.admissionPlugins.join(',')}\n`]
  const own = options.config ?? {}
  const ownPatches = Array.isArray(own.kubeadmConfigPatches) ? (own.kubeadmConfigPatches as unknown[]) : []
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    nodes,
    ...own,
    ...(patches.length + ownPatches.length > 0 ? { kubeadmConfigPatches: [...patches, ...ownPatches] } : {}),
  }
}

class Kind implements KindDeployer {
  readonly kind: 'deployer'
  readonly name: 'kind'
  readonly options: Readonly<KindSettings>

  constructor(options: KindSettings) {
    this.kind = 'deployer'
    this.name = 'kind'
    this.options = options
  }

  inWorkdir(workdir: string): Deployer {
    return this.options.dir === undefined ? new Kind({ ...this.options, dir: path.join(workdir, 'kind') }) : this
  }

  /** node-image (kind build node-image from the variant's tree) and use-node-image (an external node image, pulled and tagged). */
  steps(): Promise<readonly Task[]> {
    return loadSteps()
  }

  image(variant: Variant): string {
    return `${NODE_REPOSITORY}:${variant.tag}`
  }

  get shareName(): string {
    return 'kind-node'
  }

  async prepare(ctx: TaskContext, io: StepIO): Promise<ClusterImage> {
    const image = this.image(ctx.variant)
    if (!io.dryRun && (await localImageId(image, io)) === undefined) {
      const how = ctx.variant.image
        ? `take it first (kspawn task use-node-image --variant ${ctx.variant.name}, which runs docker pull ${ctx.variant.image.ref} and docker tag ${ctx.variant.image.ref} ${image})`
        : `build it first (kspawn task node-image --variant ${ctx.variant.name})`
      throw new StepError(`the Docker engine has no node image ${image}, which kind runs for variant ${ctx.variant.name}: ${how}`)
    }
    // A node image the build cache gave (another variant's, another machine's) was not built here: the summary's build line says where from.
    const fromCache = /^(reused|pulled)|\((reused|pulled)/.test(ctx.state.built ?? '')
    const made = fromCache ? 'the node image of the tree' : 'built by kind build node-image from the tree'
    const controlPlane = ctx.variant.image ? `${image}, pulled from ${ctx.variant.image.ref}` : `${image}, ${made} of variant ${ctx.variant.name}`
    return { image, tag: ctx.variant.tag, controlPlane }
  }

  kubeconfig(cluster: string): string {
    return path.join(this.folder(cluster), 'kubeconfig')
  }

  /** The kind config kspawn writes for the cluster. */
  configFile(cluster: string): string {
    return path.join(this.folder(cluster), 'kind-config.yaml')
  }

  readySeconds(): number {
    return this.options.readySeconds
  }

  async exists(cluster: string, io: StepIO): Promise<boolean> {
    return (await this.containers(cluster, io)).length > 0
  }

  async clusters(io: StepIO): Promise<string[]> {
    // One name a line on stdout; "No kind clusters found." goes to stderr.
    const listed = await io.run({ argv: getClustersArgv(), reads: true, capture: true })
    return (listed.stdout ?? '').split('\n').map((line) => line.trim()).filter(Boolean)
  }

  async status(clusters: string[], io: StepIO): Promise<Map<string, ClusterStatus>> {
    const statuses = new Map<string, ClusterStatus>()
    for (const cluster of clusters) {
      // The load balancer is a container of the cluster, not one of its nodes.
      const nodes = (await this.containers(cluster, io)).filter((container) => container.role !== 'external-load-balancer')
      const running = nodes.filter((node) => node.running).map((node) => node.name)
      const state = nodes.length === 0 ? 'gone' : running.length === 0 ? 'stopped' : running.length === nodes.length ? 'running' : 'partly running'
      statuses.set(cluster, { state, machines: nodes.map((node) => node.name), running })
    }
    return statuses
  }

  async up(spec: ClusterSpec, io: StepIO): Promise<void> {
    const configFile = this.configFile(spec.name)
    const config = clusterConfig(this.options)
    const { YAML } = await import('zx')
    if (io.dryRun) {
      io.info(`${configFile} would hold:\n${YAML.stringify(config).trimEnd()}`)
    } else {
      await mkdir(this.folder(spec.name), { recursive: true })
      await writeFile(configFile, YAML.stringify(config))
    }
    let created
    try {
      created = await io.run({ argv: createArgv(spec.name, spec.image.image, configFile, this.kubeconfig(spec.name), this.options.waitSeconds) })
    } catch (error) {
      if (isCommandError(error) && error.failure.tail.some((line) => line.includes(ALREADY_EXISTS))) {
        throw new StepError(`kind already has a cluster ${spec.name} (${error.failure.tail.find((line) => line.includes(ALREADY_EXISTS))?.trim()}): remove it first (${formatCommandLine(deleteArgv(spec.name, this.kubeconfig(spec.name)))})`, { cause: error })
      }
      throw error
    }
    if (io.dryRun) return
    if (created.tail.some((line) => line.includes(WAIT_TIMED_OUT))) {
      io.warn(`kind's --wait ${this.options.waitSeconds}s ran out before the control plane of cluster ${spec.name} was Ready; the smoke test waits for the nodes (readySeconds)`)
    }
    if (!(await exists(this.kubeconfig(spec.name)))) throw new StepError(`\`${created.commandLine}\` exited with code 0 but wrote no kubeconfig at ${this.kubeconfig(spec.name)}${created.logFile ? `; full log: ${created.logFile}` : ''}`)
  }

  async down(cluster: string, io: StepIO): Promise<void> {
    await io.run({ argv: deleteArgv(cluster, this.kubeconfig(cluster)) })
    await io.run({ argv: ['rm', '-rf', '--', this.folder(cluster)] })
  }

  downCommandLines(cluster: string): string[] {
    return [formatCommandLine(deleteArgv(cluster, this.kubeconfig(cluster)))]
  }

  enableAdmissionPlugin(plugin: string, where: { configFile: string; variant: string }): string {
    const listed = this.options.admissionPlugins
    if (listed.includes(plugin)) {
      return `the kind deployer of variant ${where.variant} in ${where.configFile} lists it in admissionPlugins, so the cluster was made before it did: make it again with --recreate`
    }
    const wanted = [...listed, plugin].map((name) => `'${name}'`).join(', ')
    return `enable it in ${where.configFile}: give variant ${where.variant}'s kind deployer admissionPlugins: [${wanted}], e.g. kind({ admissionPlugins: [${wanted}] }), then run it again (the cluster, made with other settings, is replaced)`
  }

  async remains(cluster: string, io: StepIO): Promise<string[]> {
    const containers = await this.containers(cluster, io)
    const folder = await exists(this.folder(cluster))
    return [...(containers.length > 0 ? [`its containers ${containers.map((container) => container.name).join(', ')}`] : []), ...(folder ? [`its folder ${this.folder(cluster)}`] : [])]
  }

  private async containers(cluster: string, io: StepIO): Promise<KindContainer[]> {
    const listed = await io.run({ argv: containersArgv(cluster), reads: true, capture: true })
    return parseContainers(listed.stdout ?? '')
  }

  private folder(cluster: string): string {
    // Settled by inWorkdir when the config is loaded.
    return path.join(this.options.dir ?? path.resolve('.kspawn', 'kind'), cluster)
  }
}

// Loaded once, however many variants ask at once: a config's plugins are loaded by jiti, whose
// concurrent imports of one module can see it unfinished.
let steps: Promise<readonly Task[]> | undefined
function loadSteps(): Promise<readonly Task[]> {
  steps ??= import('./steps.ts').then(({ nodeImage, useNodeImage }) => [nodeImage, useNodeImage])
  return steps
}

export function kind(options: KindOptions = {}): KindDeployer {
  // Unknown keys are kept so that config validation reports a misspelt option.
  return new Kind({
    ...options,
    workers: options.workers ?? 1,
    controlPlanes: options.controlPlanes ?? 1,
    admissionPlugins: options.admissionPlugins ?? [],
    waitSeconds: options.waitSeconds ?? 300,
    readySeconds: options.readySeconds ?? 300,
  })
}
