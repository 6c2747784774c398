// Which Kubernetes build a cluster's machines get kubeadm and kubelet from.
// kube-spawn --dev copies them from $GOPATH/src/k8s.io/kubernetes/_output,
// whatever image the control plane runs; an external image carries no
// kubeadm, so an image variant borrows a build and the summary says which.
import { readJsonFile } from '../../engine/json-file.ts'
import path from 'node:path'
import type { Variant } from '../../engine/config/config.ts'
import { Interrupted, StepError } from '../../engine/errors.ts'
import { STATE_FILE } from '../../engine/run/run-dir.ts'
import type { RunRecord } from '../../engine/run/run-state.ts'
import type { TaskContext } from '../../engine/run/task.ts'
import { variantGopath, variantWorktree } from '../../engine/run/variant-state.ts'
import { exists } from '../../tasks/docker.ts'
import { BUILD_OUTPUT, hasBuild, readBuildStamp } from './build.ts'
import type { StepIO } from '../../engine/plugin.ts'

/** What the build lookup acts through: a step's IO, and its abort signal while it waits. */
type Step = StepIO & { readonly signal: AbortSignal }

export interface KubernetesBuild {
  /** The $GOPATH kube-spawn --dev is given. */
  gopath: string
  /** Where kubeadm and kubelet are. */
  dir: string
  gitVersion: string
  /** e.g. `variant denyattach` or `your checkout`. */
  from: string
}

/** How often a variant waiting for another's build looks again. */
const WAIT_INTERVAL_MS = 2000

/** `kubelet --version` prints `Kubernetes v1.8.5-beta.0`. */
export function versionArgv(binary: string): string[] {
  return [binary, '--version']
}

export function parseVersion(output: string): string | undefined {
  return /^Kubernetes (\S+)/m.exec(output)?.[1]
}

/**
 * A variant built from source uses its own build. An image variant uses the
 * build of the first variant of the config built from source, waiting for it
 * when the same run is building it; without one, the build in your checkout's
 * _output (its $GOPATH being the folder above src/k8s.io/kubernetes).
 */
export async function kubernetesBuildFor(ctx: TaskContext, step: Step): Promise<KubernetesBuild> {
  const { config, variant } = ctx
  if (variant.build) {
    const worktree = ctx.state.worktree ?? variantWorktree(config, variant)
    if (!step.dryRun && !(await hasBuild(worktree))) {
      throw new StepError(
        `kube-spawn --dev takes kubelet, kubeadm and kubectl from ${path.join(worktree, BUILD_OUTPUT)}, which has no finished build: build it first (kspawn task build --variant ${variant.name})`,
      )
    }
    return ownBuild(ctx.state.gopath ?? variantGopath(config, variant), worktree, `variant ${variant.name}`, step)
  }

  const donor = config.variants.find((other) => other.build !== undefined)
  if (donor) {
    const worktree = variantWorktree(config, donor)
    if (!step.dryRun && !(await hasBuild(worktree))) await waitForBuild(ctx, donor, worktree, step)
    return ownBuild(variantGopath(config, donor), worktree, `variant ${donor.name}`, step)
  }

  const checkout = config.kubernetes.checkout
  const dir = path.join(checkout, BUILD_OUTPUT)
  const inGopath = checkout.split(path.sep).slice(-3).join('/') === 'src/k8s.io/kubernetes'
  if (inGopath && (step.dryRun || ((await exists(path.join(dir, 'kubeadm'))) && (await exists(path.join(dir, 'kubelet')))))) {
    const version = await step.run({ argv: versionArgv(path.join(dir, 'kubelet')), reads: true, capture: true, okExitCodes: [0, 1, 2, 126, 127] })
    const gitVersion = parseVersion(version.stdout ?? '') ?? 'unknown (kubelet --version said none)'
    return { gopath: path.resolve(checkout, '..', '..', '..'), dir, gitVersion, from: 'your checkout' }
  }
  throw new StepError(
    `variant ${variant.name} runs the image ${variant.image.ref}, but kube-spawn --dev also takes kubelet and kubeadm from a Kubernetes build, ` +
      `and ${config.file} has no variant built from source, nor has your checkout ${checkout} a build in ${BUILD_OUTPUT}: add a variant with source and tag, or build your checkout (build/run.sh make)`,
  )
}

async function ownBuild(gopath: string, worktree: string, from: string, step: Step): Promise<KubernetesBuild> {
  const stamp = step.dryRun ? undefined : await readBuildStamp(worktree)
  return { gopath, dir: path.join(worktree, BUILD_OUTPUT), gitVersion: stamp?.gitVersion ?? 'not built yet', from }
}

/**
 * Waits while this run is still building the donor, as told by the run's
 * state.json; fails at once when the run does not build it, or when its
 * variant stops without a build.
 */
async function waitForBuild(ctx: TaskContext, donor: Variant, worktree: string, step: Step): Promise<void> {
  const notBuilt = (why: string) =>
    new StepError(
      `variant ${ctx.variant.name} runs the image ${ctx.variant.image?.ref}; its machines get kubelet and kubeadm from the build of variant ${donor.name}, ${why}: ` +
        `build it first (kspawn task build --variant ${donor.name}), or run both variants together (kspawn run dev-loop --variant ${donor.name} --variant ${ctx.variant.name})`,
    )
  let told = false
  for (;;) {
    const record = await readRunRecord(path.join(ctx.run.dir, STATE_FILE))
    const entry = record?.variants.find((candidate) => candidate.name === donor.name)
    if (!entry) throw notBuilt('which has no finished build and is not part of this run')
    const build = entry.tasks.find((task) => task.id === 'build')
    if (entry.status !== 'running' || build?.status === 'failed' || build?.status === 'interrupted') {
      throw notBuilt(`which stopped in this run without a finished build (at ${entry.stoppedAt ?? build?.id ?? 'an earlier step'})`)
    }
    if (!told) step.info(`waiting for variant ${donor.name} to finish its build: its kubelet and kubeadm go into cluster ${ctx.variant.cluster}`)
    told = true
    await new Promise((resolve) => setTimeout(resolve, WAIT_INTERVAL_MS))
    if (step.signal.aborted) throw new Interrupted(`the run was interrupted while variant ${ctx.variant.name} waited for the build of variant ${donor.name}`)
    if (await hasBuild(worktree)) return
  }
}

function readRunRecord(file: string): Promise<RunRecord | undefined> {
  return readJsonFile<RunRecord>(file)
}

/** Where kubernetesBuildFor will take an image variant's kubeadm and kubelet from, said before it is built. */
export function plannedBuildSource(config: TaskContext['config']): string {
  const donor = config.variants.find((other) => other.build !== undefined)
  if (donor) return `the build of variant ${donor.name} (${path.join(variantWorktree(config, donor), BUILD_OUTPUT)})`
  return `the build in your checkout (${path.join(config.kubernetes.checkout, BUILD_OUTPUT)})`
}
