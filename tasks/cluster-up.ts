// cluster-up: a cluster for the variant on what its deployer's steps made
// (the article's `kube-spawn create --dev` and `start`). An existing cluster of the same name is refused unless
// the run asks to recreate it; a cluster that does not come up, or whose
// making is interrupted, is removed again by the rollback, or the error says
// what remains and how to remove it. A cluster left half made (a second
// interrupt cut the removal short, or the removal failed) is in the variant's
// state, so that the summary names it and a resumed run replaces it. kspawn records each cluster it makes (engine/cluster-records.ts).
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { madeBy, readClusterRecord, readClusterRecords, removeClusterRecord, writeClusterRecord, type ClusterRecord } from '../engine/cluster-records.ts'
import type { ClusterImage } from '../engine/plugin.ts'
import { quoteArg } from '../engine/runner/command-line.ts'
import { StepError } from '../engine/errors.ts'
import { howToRemove, removalFailed } from '../engine/run/teardown.ts'
import { kspawnDownCommand, type Task, type TaskContext } from '../engine/run/task.ts'
import { exists, localImageId } from './docker.ts'
import { openStep, type Step } from '../engine/run/step-io.ts'

export const clusterUp: Task = {
  id: 'cluster-up',
  description: "bring up the variant's cluster on its image through its deployer (kspawn list names each deployer's commands), and print its kubeconfig as an export line",
  title: (ctx) => `Spawn cluster ${ctx.variant.cluster} on ${ctx.variant.deployer.image(ctx.variant)}`,
  async stillDone(ctx, services) {
    if (ctx.run.recreate) return '--recreate asks for a new cluster'
    const step = openStep('cluster-up', ctx, services)
    const { deployer, cluster } = ctx.variant
    const status = (await deployer.status([cluster], step)).get(cluster)
    if (status?.state !== 'running') return `cluster ${cluster} is ${status?.state ?? 'gone'}`
    const kubeconfig = ctx.state.kubeconfig ?? deployer.kubeconfig(cluster)
    return (await exists(kubeconfig)) ? undefined : `cluster ${cluster} has no kubeconfig at ${kubeconfig}`
  },
  async run(ctx, services) {
    const step = openStep('cluster-up', ctx, services)
    const { deployer } = ctx.variant
    const cluster = ctx.variant.cluster
    // What the deployer's steps made, checked: the image, and where the machines' binaries come from.
    const made = await deployer.prepare(ctx, step)
    const image = made.image
    if (made.binaries) ctx.state.binaries = made.binaries
    ctx.state.controlPlane = made.controlPlane

    const runs = await fingerprint(made, step)
    if (await deployer.exists(cluster, step)) {
      const record = await readClusterRecord(ctx.config.workdir, cluster)
      // The variant's own cluster, that its latest run began and did not bring up: continuing that run means starting the cluster again.
      const halfMade = ctx.state.halfMadeCluster === cluster
      // A cluster kspawn made for this variant: a rerun keeps it when it is up on this very build, and replaces it otherwise.
      const variantsOwn = record !== undefined && record.variant === ctx.variant.name && record.config === ctx.config.file
      if (variantsOwn && !halfMade && !ctx.run.recreate) {
        const kept = await reusable(ctx, step, record, runs)
        if (kept === true) {
          step.info(`cluster ${cluster} is up on this very build (made by run ${record.run}): reusing it; --recreate makes it anew`)
          return up(ctx, step)
        }
        step.info(`cluster ${cluster}, made by run ${record.run} for variant ${ctx.variant.name}, ${kept}: replacing it`)
      } else if (!ctx.run.recreate && !halfMade) {
        throw await alreadyExists(ctx, step)
      } else {
        step.info(
          halfMade
            ? `replacing cluster ${cluster}, which an earlier run of variant ${ctx.variant.name} began and did not bring up: stopping and destroying it`
            : `recreating cluster ${cluster}: stopping and destroying the one that exists`,
        )
      }
      await deployer.down(cluster, step)
    }

    if (!step.dryRun) {
      delete ctx.state.kubeconfig
      ctx.state.halfMadeCluster = cluster
    }
    const record: ClusterRecord = {
      cluster,
      variant: ctx.variant.name,
      tag: ctx.variant.tag,
      image,
      deployer: { ...deployer.options, name: deployer.name },
      kubeconfig: deployer.kubeconfig(cluster),
      created: new Date().toISOString(),
      run: ctx.run.id,
      config: ctx.config.file,
      ...(runs === undefined ? {} : { runs }),
    }
    // Recorded before it starts, as being made, so that `kspawn down` knows a half-made cluster too, and a killed run's is not taken for whole.
    if (!step.dryRun) await writeClusterRecord(ctx.config.workdir, { ...record, making: true })
    await deployer.up({ name: cluster, image: made }, step)
    if (!step.dryRun) await writeClusterRecord(ctx.config.workdir, record)
    delete ctx.state.halfMadeCluster
    up(ctx, step)
  },
  leftBehind: (ctx) => ctx.state.halfMadeCluster !== undefined,
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

/** The cluster is up: its kubeconfig in the state, and the line that reaches it. */
function up(ctx: TaskContext, step: Step): void {
  const kubeconfig = ctx.variant.deployer.kubeconfig(ctx.variant.cluster)
  ctx.state.kubeconfig = kubeconfig
  step.info(`export ${quoteArg(`KUBECONFIG=${kubeconfig}`)}`)
}

/**
 * What a cluster runs, to tell a rerun on the same build from one on another:
 * the image's id in the engine, and the size and time of the binaries the
 * machines take when they take them from a build. Undefined in dry-run.
 */
async function fingerprint(made: ClusterImage, step: Step): Promise<string | undefined> {
  if (step.dryRun) return undefined
  const id = await localImageId(made.image, step)
  const binaries = made.binaries
    ? await Promise.all(
        ['kubeadm', 'kubelet'].map(async (name) => {
          const info = await stat(path.join(made.binaries!.dir, name)).catch(() => undefined)
          return info ? `${name}:${info.size}:${Math.round(info.mtimeMs)}` : `${name}:-`
        }),
      )
    : []
  return [`image:${id ?? '-'}`, ...binaries].join(' ')
}

/** True when the variant's own cluster can be kept as it is; otherwise why not, e.g. `runs an earlier build`. */
async function reusable(ctx: TaskContext, step: Step, record: ClusterRecord, runs: string | undefined): Promise<true | string> {
  if (record.making) return 'was never brought up whole (the run making it ended first)'
  if (!madeBy(record, ctx.variant.deployer)) return `was made with other ${ctx.variant.deployer.name} settings than ${ctx.config.file} now gives`
  if (runs === undefined || record.runs !== runs) return 'runs another build than this one'
  const status = (await ctx.variant.deployer.status([ctx.variant.cluster], step)).get(ctx.variant.cluster)
  if (status?.state !== 'running') return `is ${status?.state ?? 'gone'}`
  if (!(await exists(ctx.variant.deployer.kubeconfig(ctx.variant.cluster)))) return `has no kubeconfig at ${ctx.variant.deployer.kubeconfig(ctx.variant.cluster)}`
  return true
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
