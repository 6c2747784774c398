// toy(): a deployer written as a user would write one, for the tests (see
// README.md). One machine per cluster, a container named toy-<cluster>,
// with the world's API server emulator in front of it.
import { access, mkdir, readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { ClusterImage, ClusterSpec, ClusterStatus, Deployer, StepIO, Task, TaskContext, Variant } from 'kspawn'
import { StepError } from 'kspawn'

export interface ToyOptions {
  /** Where each cluster's folder goes: <dir>/<cluster>/{kubeconfig, apiserver.json, ...}. */
  dir: string
}

export const TOY_REPOSITORY = 'kspawn-toy/node'
export const CLUSTER_LABEL = 'io.kspawn.toy.cluster'

export function machineName(cluster: string): string {
  return `toy-${cluster}`
}

export function runMachineArgv(cluster: string, image: string): string[] {
  const name = machineName(cluster)
  return ['docker', 'run', '--detach', '--network', 'none', '--name', name, '--hostname', name, '--label', `${CLUSTER_LABEL}=${cluster}`, image, '/usr/bin/kubelet']
}

export function removeMachineArgv(cluster: string): string[] {
  return ['docker', 'rm', '--force', machineName(cluster)]
}

export function runningMachinesArgv(cluster: string): string[] {
  return ['docker', 'ps', '--filter', `label=${CLUSTER_LABEL}=${cluster}`, '--format', '{{.Names}}']
}

class Toy implements Deployer {
  readonly kind = 'deployer' as const
  readonly name = 'toy'
  readonly options: Readonly<ToyOptions>
  readonly shareName = 'toy-node'

  constructor(options: ToyOptions) {
    this.options = options
  }

  async steps(): Promise<readonly Task[]> {
    const { nodeImage } = await import('./node-image.ts')
    return [nodeImage]
  }

  image(variant: Variant): string {
    return `${TOY_REPOSITORY}:${variant.tag}`
  }

  async prepare(ctx: TaskContext, io: StepIO): Promise<ClusterImage> {
    const image = this.image(ctx.variant)
    if (!io.dryRun) {
      const inspected = await io.run({ argv: ['docker', 'image', 'inspect', '--format', '{{.Id}}', image], reads: true, capture: true, okExitCodes: [0, 1] })
      if (inspected.exitCode !== 0) throw new StepError(`the Docker engine has no image ${image}: make it first (kspawn task node-image --variant ${ctx.variant.name})`)
    }
    return { image, tag: ctx.variant.tag, controlPlane: `${image}, made by the toy's node-image step` }
  }

  kubeconfig(cluster: string): string {
    return path.join(this.folder(cluster), 'kubeconfig')
  }

  readySeconds(): number {
    return 60
  }

  exists(cluster: string): Promise<boolean> {
    return access(this.folder(cluster)).then(
      () => true,
      () => false,
    )
  }

  async clusters(): Promise<string[]> {
    const entries = await readdir(this.options.dir, { withFileTypes: true }).catch(() => [])
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
  }

  async status(clusters: string[], io: StepIO): Promise<Map<string, ClusterStatus>> {
    const statuses = new Map<string, ClusterStatus>()
    for (const cluster of clusters) {
      if (!(await this.exists(cluster))) {
        statuses.set(cluster, { state: 'gone', machines: [], running: [] })
        continue
      }
      const listed = await io.run({ argv: runningMachinesArgv(cluster), reads: true, capture: true })
      const running = (listed.stdout ?? '').split('\n').filter(Boolean)
      statuses.set(cluster, { state: running.length > 0 ? 'running' : 'stopped', machines: [machineName(cluster)], running })
    }
    return statuses
  }

  async up(spec: ClusterSpec, io: StepIO): Promise<void> {
    const folder = this.folder(spec.name)
    if (!io.dryRun) await mkdir(folder, { recursive: true })
    await io.run({ argv: runMachineArgv(spec.name, spec.image.image) })
    if (io.dryRun) return
    // The cluster's API server: the test world's emulator, which reads the machine's build.
    const { startEmulator, writeAdminConf } = await import('../../world/standins/emulator.ts')
    const { copyFile } = await import('node:fs/promises')
    const machine = { name: machineName(spec.name), role: 'master' as const, address: '' }
    const ready = await startEmulator(folder, { clusterName: spec.name, image: spec.image.image, machines: [machine], nodeReadySeconds: 1 })
    await copyFile(await writeAdminConf(path.join(folder, 'etc'), ready.url), this.kubeconfig(spec.name))
    io.info(`toy cluster ${spec.name}: machine ${machine.name}, API server ${ready.url} (pid ${ready.pid})`)
  }

  async down(cluster: string, io: StepIO): Promise<void> {
    if (!io.dryRun) {
      const { stopEmulator } = await import('../../world/standins/emulator.ts')
      await stopEmulator(this.folder(cluster))
    }
    await io.run({ argv: removeMachineArgv(cluster), okExitCodes: [0, 1] })
    await io.run({ argv: ['rm', '-rf', '--', this.folder(cluster)] })
  }

  downCommandLines(cluster: string): string[] {
    return [removeMachineArgv(cluster).join(' '), `rm -rf -- ${this.folder(cluster)}`]
  }

  async remains(cluster: string, io: StepIO): Promise<string[]> {
    const listed = await io.run({ argv: runningMachinesArgv(cluster), reads: true, capture: true })
    const running = (listed.stdout ?? '').split('\n').filter(Boolean)
    return [...((await this.exists(cluster)) ? [`its folder ${this.folder(cluster)}`] : []), ...(running.length > 0 ? [`its running machine ${running.join(', ')}`] : [])]
  }

  private folder(cluster: string): string {
    return path.join(this.options.dir, cluster)
  }
}

export function toy(options: ToyOptions): Deployer {
  return new Toy(options)
}
