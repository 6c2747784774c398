// cluster-up: a cluster for the variant on what its deployer's steps made
// (the article's `kube-spawn create --dev` and `start`). An existing cluster of the same name is refused unless
// the run asks to recreate it; a cluster that does not come up, or whose
// making is interrupted, is removed again by the rollback, or the error says
// what remains and how to remove it. A cluster left half made (a second
// interrupt cut the removal short, or the removal failed) is in the variant's
// state, so that the summary names it and a resumed run replaces it. kspawn records each cluster it makes (engine/cluster-records.ts).
import { readClusterRecords, removeClusterRecord, writeClusterRecord } from '../engine/cluster-records.ts'
import { quoteArg } from '../engine/runner/command-line.ts'
import { StepError } from '../engine/errors.ts'
import { howToRemove, removalFailed } from '../engine/run/teardown.ts'
import { kspawnDownCommand, type Task, type TaskContext } from '../engine/run/task.ts'
import { exists } from './docker.ts'
import { openStep, type Step } from '../engine/run/step-io.ts'

export const clusterUp: Task = {
  id: 'cluster-up',
  description: "bring up the variant's cluster on its image through its deployer (kspawn list names each deployer's commands), and print its kubeconfig as an export line",
  title: (ctx) => `Spawn cluster ${ctx.variant.cluster} on ${ctx.variant.deployer.image(ctx.variant)}`,
  async run(ctx, services) {
    const step = openStep('cluster-up', ctx, services)
    const { deployer } = ctx.variant
    const cluster = ctx.variant.cluster
    // What the deployer's steps made, checked: the image, and where the machines' binaries come from.
    const made = await deployer.prepare(ctx, step)
    const image = made.image
    if (made.binaries) ctx.state.binaries = made.binaries
    ctx.state.controlPlane = made.controlPlane

    if (await deployer.exists(cluster, step)) {
      // The variant's own cluster, that its latest run began and did not bring up: continuing that run means starting the cluster again.
      const ours = ctx.state.halfMadeCluster === cluster
      if (!ctx.run.recreate && !ours) throw await alreadyExists(ctx, step)
      step.info(
        ours
          ? `replacing cluster ${cluster}, which an earlier run of variant ${ctx.variant.name} began and did not bring up: stopping and destroying it`
          : `recreating cluster ${cluster}: stopping and destroying the one that exists`,
      )
      await deployer.down(cluster, step)
    }

    if (!step.dryRun) {
      delete ctx.state.kubeconfig
      ctx.state.halfMadeCluster = cluster
      // Recorded before it starts, so that `kspawn down` knows a half-made cluster too.
      await writeClusterRecord(ctx.config.workdir, {
        cluster,
        variant: ctx.variant.name,
        tag: ctx.variant.tag,
        image,
        deployer: { ...deployer.options, name: deployer.name },
        kubeconfig: deployer.kubeconfig(cluster),
        created: new Date().toISOString(),
        run: ctx.run.id,
        config: ctx.config.file,
      })
    }
    await deployer.up({ name: cluster, image: made }, step)
    delete ctx.state.halfMadeCluster

    const kubeconfig = deployer.kubeconfig(cluster)
    ctx.state.kubeconfig = kubeconfig
    step.info(`export ${quoteArg(`KUBECONFIG=${kubeconfig}`)}`)
  },
  async rollback(ctx, services) {
    const cluster = ctx.state.halfMadeCluster
    if (cluster === undefined) return
    const step = openStep('cluster-up', ctx, services)
    const { deployer } = ctx.variant
    try {
      await deployer.down(cluster, step)
    } catch (error) {
      throw new StepError(await removalFailed(deployer, cluster, error, step, `cluster ${cluster} did not come up, and removing what was made of it failed`, kspawnDownCommand(ctx.run, cluster)), { cause: error })
    }
    delete ctx.state.halfMadeCluster
    await removeClusterRecord(ctx.config.workdir, cluster)
    step.info(`removed what was made of cluster ${cluster}, so that the next attempt starts clean`)
  },
}

/** Refusing a cluster that exists: whether it came up, and the commands that remove it (kspawn down first: it also stops machines kube-spawn would leave). */
async function alreadyExists(ctx: TaskContext, step: Step): Promise<StepError> {
  const { deployer } = ctx.variant
  const cluster = ctx.variant.cluster
  const kubeconfig = deployer.kubeconfig(cluster)
  const state = (await exists(kubeconfig)) ? `${kubeconfig} is its kubeconfig` : `not brought up: it has no kubeconfig at ${kubeconfig}`
  const ours = (await readClusterRecords(ctx.config.workdir)).some((record) => record.cluster === cluster)
  return new StepError(
    [
      `cluster ${cluster} already exists (${state}): kspawn does not replace a cluster unless asked.`,
      ...howToRemove('Rerun with --recreate to stop and destroy it first, or remove it yourself with', kspawnDownCommand(ctx.run, cluster, !ours), deployer, cluster, step.isRoot),
    ].join('\n'),
  )
}
