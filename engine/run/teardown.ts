// `kspawn run --teardown`: after the workflow, the run's clusters are removed,
// also for a variant whose smoke test failed (kubetest2 runs down after a
// failed test). Without it clusters stay up and the summary says how to remove them.
import { readClusterRecords, removeClusterRecord } from '../cluster-records.ts'
import type { Config } from '../config/config.ts'
import type { Emit } from './events.ts'
import type { VariantRun } from './pipeline.ts'
import type { Deployer, StepIO } from '../plugin.ts'
import type { Runner } from '../runner/runner.ts'
import { stepIO } from './step-io.ts'

export interface TeardownResult {
  cluster: string
  removed: boolean
  /** Why it could not be removed, and how to do it by hand. */
  message?: string
}

export interface TeardownOptions {
  config: Config
  runs: VariantRun[]
  /** The run's id: a cluster recorded by this run is removed even if it never came up. */
  runId: string
  runner: Runner
  emit: Emit
  dryRun: boolean
  isRoot: boolean
  /** The command that removes a cluster, as it can be pasted where the run was started. */
  downCommand: (cluster: string) => string
}

/** The results by variant name, for the variants whose cluster the run brought up or began to. */
export async function tearDown(options: TeardownOptions): Promise<Map<string, TeardownResult>> {
  const { config, runner, emit, dryRun, isRoot } = options
  const recordedByThisRun = new Set((await readClusterRecords(config.workdir)).filter((record) => record.run === options.runId).map((record) => record.cluster))
  const results = new Map<string, TeardownResult>()
  for (const { ctx } of options.runs) {
    const cluster = ctx.variant.cluster
    if (ctx.state.kubeconfig === undefined && !recordedByThisRun.has(cluster)) continue
    const source = { step: 'teardown', variant: ctx.variant.name }
    const io = stepIO({ runner, emit, dryRun, isRoot }, source)
    emit({ kind: 'info', ...source, message: `removing cluster ${cluster} (--teardown)` })
    try {
      await ctx.variant.deployer.down(cluster, io)
      if (!dryRun) {
        await removeClusterRecord(config.workdir, cluster)
        delete ctx.state.halfMadeCluster
      }
      results.set(ctx.variant.name, { cluster, removed: true })
    } catch (error) {
      const message = await removalFailed(ctx.variant.deployer, cluster, error, io, `removing cluster ${cluster} failed`, options.downCommand(cluster))
      emit({ kind: 'warn', ...source, message })
      results.set(ctx.variant.name, { cluster, removed: false, message })
    }
  }
  return results
}

/**
 * At the end of a run, the clusters it leaves up, asked of their deployers:
 * one removed or stopped while the run went on (another terminal's `kspawn
 * down --force`, a machine stopped by hand) loses its kubeconfig line, and
 * the summary says what became of it instead of calling it up.
 */
export async function checkClustersUp(options: Pick<TeardownOptions, 'config' | 'runs' | 'runner' | 'emit' | 'dryRun' | 'isRoot' | 'downCommand'>): Promise<void> {
  const { runner, emit, dryRun, isRoot } = options
  if (dryRun) return
  for (const { ctx } of options.runs) {
    if (ctx.state.kubeconfig === undefined) continue
    const cluster = ctx.variant.cluster
    const io = stepIO({ runner, emit, dryRun, isRoot }, { step: 'cluster-up', variant: ctx.variant.name })
    const state = await ctx.variant.deployer.status([cluster], io).then(
      (statuses) => statuses.get(cluster)?.state ?? 'gone',
      () => undefined,
    )
    if (state === undefined || state === 'running') continue
    delete ctx.state.kubeconfig
    // Removed by `kspawn down`, it is forgotten too; otherwise kspawn down removes what is left, or forgets it.
    const recorded = (await readClusterRecords(options.config.workdir)).some((record) => record.cluster === cluster)
    const then = recorded ? `; ${state === 'gone' ? 'forget' : 'remove'} it with: ${options.downCommand(cluster)}` : ''
    ctx.state.clusterGone = `cluster ${cluster} is ${state} now, though the run brought it up: it was removed or stopped while the run went on${then}`
    emit({ kind: 'warn', step: 'cluster-up', variant: ctx.variant.name, message: ctx.state.clusterGone })
  }
}

/**
 * What to say when removing a cluster failed: `lead`, why (the failed
 * command's last lines and log), what is left of the cluster, and the
 * commands that remove it once the cause is fixed.
 */
export async function removalFailed(deployer: Deployer, cluster: string, error: unknown, io: StepIO, lead: string, downCommand = `kspawn down ${cluster}`): Promise<string> {
  const why = error instanceof Error ? error.message : String(error)
  const left = await deployer.remains(cluster, io).then(
    (remains) => (remains.length === 0 ? 'nothing' : remains.join('; ')),
    (failed: unknown) => `unknown (${failed instanceof Error ? failed.message.split('\n')[0] : String(failed)})`,
  )
  return [`${lead}: ${why}`, `  Left of cluster ${cluster}: ${left}.`, ...howToRemove(`Once the cause is fixed, remove it with`, downCommand, deployer, cluster, io.isRoot)].join('\n')
}

/** `  <intro> \`kspawn down ...\`, or by hand:` and the deployer's own commands, one per line. */
export function howToRemove(intro: string, downCommand: string, deployer: Deployer, cluster: string, isRoot: boolean): string[] {
  return [`  ${intro} \`${downCommand}\`, or by hand:`, ...deployer.downCommandLines(cluster, isRoot).map((line) => `    ${line}`)]
}
