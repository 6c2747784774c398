// cluster-up: the article's `kube-spawn create --dev` and `start`, through the
// configured deployer. An existing cluster of the same name is refused unless
// the run asks to recreate it; a cluster that does not come up is removed
// again by the rollback, or the error says what remains and how to remove it.
import path from 'node:path'
import { quoteArg } from '../engine/command-line.ts'
import { StepError } from '../engine/errors.ts'
import type { Task, TaskContext, VariantState } from '../engine/task.ts'
import { variantGopath, variantWorktree } from '../engine/variant-state.ts'
import { BUILD_OUTPUT, hasBuild } from './build.ts'
import { hyperkubeImage, localImageId } from './image.ts'
import { openStep, type Step } from './step.ts'

/** The cluster a run of cluster-up started to make, by variant, until it is up: what the rollback removes. */
const halfMade = new WeakMap<VariantState, string>()

export const clusterUp: Task = {
  id: 'cluster-up',
  description: "kube-spawn create --dev and start: a cluster on the variant's image, its kubeconfig printed as an export line",
  title: (ctx) => `Spawn cluster ${ctx.variant.cluster} on ${hyperkubeImage(ctx.variant.tag)}`,
  async run(ctx, services) {
    const step = openStep('cluster-up', ctx, services)
    const { deployer } = ctx.config
    const cluster = ctx.variant.cluster
    const gopath = await kubernetesBuild(ctx, step)
    const image = hyperkubeImage(ctx.variant.tag)
    if (!step.dryRun && (await localImageId(image, step)) === undefined) throw missingImage(ctx, image)

    if (await deployer.exists(cluster)) {
      if (!ctx.run.recreate) {
        throw new StepError(
          [
            `cluster ${cluster} already exists (${deployer.kubeconfig(cluster)} is its kubeconfig): kspawn does not replace a cluster unless asked.`,
            `  Rerun with --recreate to stop and destroy it first, or remove it yourself:`,
            ...deployer.downCommandLines(cluster, step.isRoot).map((line) => `    ${line}`),
          ].join('\n'),
        )
      }
      step.info(`recreating cluster ${cluster}: stopping and destroying the one that exists`)
      await deployer.down(cluster, step)
    }

    if (!step.dryRun) halfMade.set(ctx.state, cluster)
    await deployer.up({ name: cluster, tag: ctx.variant.tag, gopath }, step)
    halfMade.delete(ctx.state)

    const kubeconfig = deployer.kubeconfig(cluster)
    ctx.state.kubeconfig = kubeconfig
    step.info(`export ${quoteArg(`KUBECONFIG=${kubeconfig}`)}`)
  },
  async rollback(ctx, services) {
    const cluster = halfMade.get(ctx.state)
    if (cluster === undefined) return
    halfMade.delete(ctx.state)
    const step = openStep('cluster-up', ctx, services)
    const { deployer } = ctx.config
    try {
      await deployer.down(cluster, step)
    } catch (error) {
      throw new StepError(
        [
          `cluster ${cluster} did not come up, and removing what was made of it failed: ${(error as Error).message.split('\n')[0]}`,
          `  Remove what remains of it with:`,
          ...deployer.downCommandLines(cluster, step.isRoot).map((line) => `    ${line}`),
        ].join('\n'),
        { cause: error },
      )
    }
    step.info(`removed what was made of cluster ${cluster}, so that the next attempt starts clean`)
  },
}

/**
 * The $GOPATH whose Kubernetes build the cluster's machines get (kubelet,
 * kubeadm, kubectl). A variant built from source has its own; an external
 * image has none, so it borrows the first finished build of a variant built
 * from source, and says so.
 */
async function kubernetesBuild(ctx: TaskContext, step: Step): Promise<string> {
  const { config, variant } = ctx
  if (variant.build) {
    const worktree = ctx.state.worktree ?? variantWorktree(config, variant)
    if (!step.dryRun && !(await hasBuild(worktree))) {
      throw new StepError(
        `kube-spawn --dev takes kubelet, kubeadm and kubectl from ${path.join(worktree, BUILD_OUTPUT)}, which has no finished build: build it first (kspawn task build --variant ${variant.name})`,
      )
    }
    return ctx.state.gopath ?? variantGopath(config, variant)
  }
  const built = config.variants.filter((other) => other.build !== undefined)
  for (const other of built) {
    if (step.dryRun || (await hasBuild(variantWorktree(config, other)))) {
      const gopath = variantGopath(config, other)
      step.info(`variant ${variant.name} runs the image ${variant.image.ref}; its machines get kubelet and kubeadm from the build of variant ${other.name} (GOPATH=${gopath})`)
      return gopath
    }
  }
  throw new StepError(
    `variant ${variant.name} runs the image ${variant.image.ref}, but kube-spawn --dev also takes kubelet and kubeadm from a Kubernetes build, and ` +
      (built.length === 0
        ? `${config.file} has no variant built from source to take them from: add one (source and tag)`
        : `no variant built from source has a finished build yet: build one first (kspawn task build --variant ${built[0]!.name})`),
  )
}

function missingImage(ctx: TaskContext, image: string): StepError {
  if (ctx.variant.image) {
    const ref = ctx.variant.image.ref
    return new StepError(
      `the Docker engine has no image ${image}, which kube-spawn --dev runs for variant ${ctx.variant.name}: pull the variant's image and tag it so (docker pull ${ref} && docker tag ${ref} ${image})`,
    )
  }
  return new StepError(`the Docker engine has no image ${image}: make it first (kspawn task image --variant ${ctx.variant.name})`)
}
