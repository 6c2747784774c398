// kube-spawn (v0.2) as a deployer: one cluster per variant, made of
// systemd-nspawn machines named kubespawn<cluster><index>, running a hyperkube
// image that its steps make (build/run.sh make, then make -C
// cluster/images/hyperkube) or adopt (docker pull and tag). Config files
// import this module, so it loads nothing heavy: the steps are loaded when a
// run needs them, and commands run through the StepIO that tasks hand in.
import { access, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { isCommandError, StepError } from '../../engine/errors.ts'
import type { Variant } from '../../engine/config/config.ts'
import type { ClusterImage, ClusterSpec, ClusterStatus, Deployer, StepIO } from '../../engine/plugin.ts'
import type { Task, TaskContext } from '../../engine/run/task.ts'
import type { Command } from '../../engine/runner/runner.ts'

export interface KubeSpawnOptions {
  /** Machines in each cluster, the first one being the master. Default 2. */
  nodes?: number
  /** kube-spawn's state folder (its `--dir`); a cluster's kubeconfig is `<dir>/<cluster>/kubeconfig`. Default `/var/lib/kube-spawn`. */
  dir?: string
  /** Run kube-spawn through `sudo -E` when kspawn is not root: `'auto'` and `true` do, `false` never does. Default `'auto'`. */
  sudo?: 'auto' | boolean
  /**
   * Seconds the nodes of a started cluster get to turn Ready before the smoke
   * test fails (kube-spawn says "init on master can take a couple of minutes
   * until all pods are up"). Default 180.
   */
  readySeconds?: number
}

import { HYPERKUBE_REPOSITORY } from './names.ts'

export { HYPERKUBE_REPOSITORY }

export interface KubeSpawnDeployer extends Deployer {
  readonly name: 'kube-spawn'
  readonly options: Readonly<Required<KubeSpawnOptions>>
}

type Settings = Readonly<Required<KubeSpawnOptions>>

// kube-spawn v0.2 reads no environment variable for --dir, so every command names it.
function kubeSpawnArgv(options: Settings, args: string[]): string[] {
  return ['kube-spawn', '-d', options.dir, ...args]
}

/** `kube-spawn -d <dir> create --dev -t <tag> -c <cluster> -n <nodes>`: the cluster's files, binaries from $GOPATH's build. */
export function createArgv(options: Settings, cluster: string, tag: string): string[] {
  return kubeSpawnArgv(options, ['create', '--dev', '-t', tag, '-c', cluster, '-n', String(options.nodes)])
}

/** `kube-spawn -d <dir> start -c <cluster>`: boots the machines and runs kubeadm in them. */
export function startArgv(options: Settings, cluster: string): string[] {
  return kubeSpawnArgv(options, ['start', '-c', cluster])
}

export function stopArgv(options: Settings, cluster: string): string[] {
  return kubeSpawnArgv(options, ['stop', '-c', cluster])
}

/** Removes the machines and `<dir>/<cluster>`; it needs the cluster's kspawn.toml. */
export function destroyArgv(options: Settings, cluster: string): string[] {
  return kubeSpawnArgv(options, ['destroy', '-c', cluster])
}

export function machinectlListArgv(): string[] {
  return ['machinectl', 'list', '--no-legend', '--no-pager']
}

/** The machine names of `machinectl list --no-legend`: the first column. */
export function parseMachinectlList(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '' && name !== 'No')
}

/**
 * What kspawn needs of a cluster's kspawn.toml: its machines (the
 * `[[machines]]` names, kubespawn<cluster><index> for the `nodes` when none
 * is written yet), those it says run (`running = true`), and its hyperkube tag.
 */
export function parseClusterFile(toml: string, cluster: string): { machines: string[]; running: string[]; tag?: string } {
  const [top = '', ...blocks] = toml.split(/^\s*\[\[machines\]\]\s*$/m)
  const described = blocks
    .map((block) => ({ name: /^\s*name\s*=\s*"([^"]*)"/m.exec(block)?.[1] ?? '', running: /^\s*running\s*=\s*true\s*$/m.test(block) }))
    .filter((machine) => machine.name !== '')
  const nodes = Number(/^\s*nodes\s*=\s*(\d+)/m.exec(top)?.[1] ?? 0)
  const machines = described.length > 0 ? described.map((machine) => machine.name) : Array.from({ length: nodes }, (_, index) => `kubespawn${cluster}${index}`)
  const running = described.filter((machine) => machine.running).map((machine) => machine.name)
  const tag = /^\s*hyperkube-tag\s*=\s*"([^"]*)"/m.exec(top)?.[1]
  return { machines, running, ...(tag === undefined ? {} : { tag }) }
}

/** What kube-spawn v0.2.1 prints, exiting 0, when some machines did not start (and the cluster was not initialized). */
const NOT_ALL_STARTED = 'not all machines started'

class KubeSpawn implements KubeSpawnDeployer {
  readonly kind: 'deployer'
  readonly name: 'kube-spawn'
  readonly options: Settings

  constructor(options: Settings) {
    this.kind = 'deployer'
    this.name = 'kube-spawn'
    this.options = options
  }

  /** build (build/run.sh make), image (make -C cluster/images/hyperkube) and use-image (an external image, pulled and tagged). */
  steps(): Promise<readonly Task[]> {
    return loadSteps()
  }

  image(variant: Variant): string {
    return `${HYPERKUBE_REPOSITORY}:${variant.tag}`
  }

  get shareName(): string {
    return 'hyperkube-amd64'
  }

  async prepare(ctx: TaskContext, io: StepIO & { readonly signal: AbortSignal }): Promise<ClusterImage> {
    const { prepare } = await (prepareModule ??= import('./prepare.ts'))
    return prepare(ctx, io)
  }

  kubeconfig(cluster: string): string {
    return path.join(this.options.dir, cluster, 'kubeconfig')
  }

  readySeconds(): number {
    return this.options.readySeconds
  }

  /** kube-spawn writes kspawn.toml last when it creates a cluster: without it there is no cluster, at most a failed create's leftovers. */
  exists(cluster: string): Promise<boolean> {
    return pathExists(this.clusterFile(cluster))
  }

  async clusters(): Promise<string[]> {
    const entries = await readdir(this.options.dir, { withFileTypes: true }).catch(() => [])
    const names = entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith('.')).map((entry) => entry.name)
    const found: string[] = []
    for (const name of names.sort()) if (await this.exists(name)) found.push(name)
    return found
  }

  async status(clusters: string[], io: StepIO): Promise<Map<string, ClusterStatus>> {
    // machinectl lists the machines that run; kspawn.toml names each cluster's machines.
    const listed = await io.run({ argv: machinectlListArgv(), reads: true, capture: true })
    const running = new Set(parseMachinectlList(listed.stdout ?? ''))
    const statuses = new Map<string, ClusterStatus>()
    for (const cluster of clusters) {
      const toml = await readFile(this.clusterFile(cluster), 'utf8').catch(() => undefined)
      if (toml === undefined) {
        statuses.set(cluster, { state: 'gone', machines: [], running: [] })
        continue
      }
      const { machines, tag } = parseClusterFile(toml, cluster)
      const up = machines.filter((machine) => running.has(machine))
      const state = up.length === 0 ? 'stopped' : up.length === machines.length ? 'running' : 'partly running'
      statuses.set(cluster, { state, machines, running: up, ...(tag === undefined ? {} : { tag }) })
    }
    return statuses
  }

  async up(spec: ClusterSpec, io: StepIO): Promise<void> {
    // kube-spawn --dev takes kubelet, kubeadm and kubectl from $GOPATH/src/k8s.io/kubernetes/_output.
    const gopath = spec.image.data?.gopath
    if (gopath === undefined) throw new StepError(`kube-spawn needs the $GOPATH of a Kubernetes build to bring cluster ${spec.name} up, and ${spec.image.image} came without one`)
    const env = { GOPATH: gopath }
    await io.run(this.command(createArgv(this.options, spec.name, spec.image.tag), env))
    const start = await io.run(this.command(startArgv(this.options, spec.name), env))
    if (io.dryRun) return

    const kubeconfig = this.kubeconfig(spec.name)
    const notAllStarted = start.tail.some((line) => line.includes(NOT_ALL_STARTED))
    if (!notAllStarted && (await pathExists(kubeconfig))) return
    const said = notAllStarted ? start.tail.filter((line) => /failed to start machine|not all machines started/.test(line)) : start.tail.slice(-10)
    const why = notAllStarted ? `it says "${NOT_ALL_STARTED}"` : `it wrote no kubeconfig at ${kubeconfig}`
    throw new StepError(
      [
        `kube-spawn did not bring cluster ${spec.name} up, although \`${start.commandLine}\` exited with code 0: ${why}`,
        ...said.map((line) => `    ${line}`),
        ...(start.logFile ? [`  full log: ${start.logFile}`] : []),
      ].join('\n'),
    )
  }

  async down(cluster: string, io: StepIO): Promise<void> {
    // A dry run prints the commands for a cluster that an earlier step only planned to make.
    if (!io.dryRun && !(await this.exists(cluster))) {
      // A failed create leaves <dir>/<cluster> without kspawn.toml and no machines; kube-spawn itself cannot remove it.
      if (await pathExists(path.join(this.options.dir, cluster))) await io.run(this.command(['rm', '-rf', '--', path.join(this.options.dir, cluster)]))
      return
    }
    // kube-spawn's stop and destroy stop only the machines that kspawn.toml says run, then fail to remove the
    // others' images and report success all the same: a start that was stopped or failed before it saved
    // kspawn.toml leaves its machines running that way. kspawn terminates them first.
    const toml = io.dryRun ? undefined : await readFile(this.clusterFile(cluster), 'utf8').catch(() => undefined)
    if (toml !== undefined) await this.terminateUntracked(cluster, parseClusterFile(toml, cluster), io)
    try {
      await io.run(this.command(stopArgv(this.options, cluster)))
    } catch (error) {
      if (!isCommandError(error)) throw error
      // destroy stops the machines too (forcibly), so a failed stop does not end the cleanup.
      io.warn(`\`${error.failure.commandLine}\` ${error.failure.outcome}; destroying the cluster anyway`)
    }
    await io.run(this.command(destroyArgv(this.options, cluster)))
  }

  private async terminateUntracked(cluster: string, file: { machines: string[]; running: string[] }, io: StepIO): Promise<void> {
    const untracked = file.machines.filter((machine) => !file.running.includes(machine))
    if (untracked.length === 0) return
    const listed = await io.run({ argv: machinectlListArgv(), reads: true, capture: true })
    const running = new Set(parseMachinectlList(listed.stdout ?? ''))
    const left = untracked.filter((machine) => running.has(machine))
    if (left.length === 0) return
    io.warn(`the machines ${left.join(', ')} of cluster ${cluster} run, but its kspawn.toml does not say so, and kube-spawn would leave them: terminating them`)
    await io.run(this.command(['machinectl', 'terminate', ...left]))
  }

  downCommandLines(cluster: string, isRoot: boolean): string[] {
    const sudo = this.needsRoot && !isRoot ? ['sudo', '-E'] : []
    return [stopArgv(this.options, cluster), destroyArgv(this.options, cluster)].map((argv) => formatCommandLine([...sudo, ...argv]))
  }

  async remains(cluster: string, io: StepIO): Promise<string[]> {
    const folder = path.join(this.options.dir, cluster)
    const toml = await readFile(this.clusterFile(cluster), 'utf8').catch(() => undefined)
    const machines =
      toml === undefined ? Array.from({ length: this.options.nodes }, (_, index) => `kubespawn${cluster}${index}`) : parseClusterFile(toml, cluster).machines
    const listed = await io.run({ argv: machinectlListArgv(), reads: true, capture: true })
    const running = parseMachinectlList(listed.stdout ?? '').filter((machine) => machines.includes(machine))
    return [
      ...((await pathExists(folder)) ? [`its folder ${folder}${toml === undefined ? '' : ' (with kspawn.toml)'}`] : []),
      ...(running.length > 0 ? [`its running machines ${running.join(', ')}`] : []),
    ]
  }

  private get needsRoot(): boolean {
    return this.options.sudo !== false
  }

  private clusterFile(cluster: string): string {
    return path.join(this.options.dir, cluster, 'kspawn.toml')
  }

  private command(argv: string[], env?: Record<string, string>): Command {
    return { argv, needsRoot: this.needsRoot, ...(env ? { env } : {}) }
  }
}

// Loaded once, however many variants ask at once: a config's plugins are loaded by jiti, whose
// concurrent imports of one module can see it unfinished.
let prepareModule: Promise<typeof import('./prepare.ts')> | undefined
let steps: Promise<readonly Task[]> | undefined
function loadSteps(): Promise<readonly Task[]> {
  steps ??= Promise.all([import('./build.ts'), import('./image.ts'), import('./use-image.ts')]).then(([{ build }, { image }, { useImage }]) => [build, image, useImage])
  return steps
}

export function kubeSpawn(options: KubeSpawnOptions = {}): KubeSpawnDeployer {
  // Unknown keys are kept so that config validation reports a misspelt option.
  return new KubeSpawn({
    ...options,
    nodes: options.nodes ?? 2,
    dir: options.dir ?? '/var/lib/kube-spawn',
    sudo: options.sudo ?? 'auto',
    readySeconds: options.readySeconds ?? 180,
  })
}

function pathExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}
