// `kspawn down <cluster...>` and `kspawn down --all`: stop and destroy the
// clusters kspawn made, through the deployer, and forget them. A cluster that
// kspawn did not make is left alone unless --force: membership is what
// kspawn recorded, never what a name looks like.
import { tmpdir } from 'node:os'
import path from 'node:path'
import { configDeployers, deployerOf, readClusterRecords, removeClusterRecord } from '../engine/cluster-records.ts'
import type { Deployer } from '../engine/plugin.ts'
import { UsageError } from '../engine/errors.ts'
import { createRunDir, plannedRunDir } from '../engine/run/run-dir.ts'
import { isAlive, lockFile, readLock } from '../engine/run/run-lock.ts'
import { removalFailed } from '../engine/run/teardown.ts'
import { commandIO } from './command-io.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'
import { configArgs } from './run-from-cli.ts'
import { kspawnDownCommand } from '../engine/run/task.ts'

export interface DownCommandOptions {
  clusters: string[]
  all?: boolean
  /** Also remove clusters kspawn did not make. */
  force?: boolean
  dryRun?: boolean
  /** --config */
  config?: string
}

/** Resolves to the exit status: 0 every cluster named is gone, 1 one was left or failed to go. */
export async function downCommand(options: DownCommandOptions, deps: CliDeps): Promise<number> {
  const config = await loadConfigFor(deps, options.config)
  const records = await readClusterRecords(config.workdir)
  const ours = records.map((record) => record.cluster)
  // The clusters kspawn did not make, by the deployer that has them; listing only reads, and writes no log.
  const reads = commandIO({ runDir: tmpdir(), dryRun: true, step: 'down' }, deps)('down')
  const owners = new Map<string, Deployer>()
  for (const deployer of configDeployers(config)) {
    for (const cluster of await deployer.clusters(reads)) if (!ours.includes(cluster) && !owners.has(cluster)) owners.set(cluster, deployer)
  }
  const theirs = [...owners.keys()]

  if (options.all && options.clusters.length > 0) throw new UsageError('name clusters or give --all, not both\nSee: kspawn down --help')
  if (!options.all && options.clusters.length === 0) {
    throw new UsageError(`name the clusters to remove, or give --all: kspawn's clusters are ${list(ours)}\nSee: kspawn down --help`)
  }
  const unknown = options.clusters.filter((cluster) => !ours.includes(cluster) && !theirs.includes(cluster))
  if (unknown.length > 0) {
    const which = unknown.length === 1 ? `unknown cluster "${unknown[0]}"` : `unknown clusters ${unknown.map((name) => `"${name}"`).join(', ')}`
    const byDeployer = [...new Set(owners.values())].map((deployer) => `${deployer.name} also has ${list(theirs.filter((cluster) => owners.get(cluster) === deployer))}`)
    const others = byDeployer.length > 0 ? `; ${byDeployer.join('; ')}, which kspawn did not make` : ''
    throw new UsageError(`${which}: kspawn's clusters are ${list(ours)}${others} (kspawn clusters shows them)`)
  }

  const chosen = options.all ? ours : options.clusters
  let exitCode = 0
  const leftAlone = chosen.filter((cluster) => !ours.includes(cluster) && !options.force)
  for (const cluster of leftAlone) {
    deps.stderr.write(`cluster ${cluster} was not made by kspawn (no record in ${path.join(config.workdir, 'clusters')}): left alone; rerun with --force to remove it anyway\n`)
    exitCode = 1
  }
  // A cluster a live run is using (it holds the lock of the cluster's variant) is left alone unless --force.
  const inUse: string[] = []
  for (const cluster of chosen.filter((name) => !leftAlone.includes(name))) {
    const record = records.find((candidate) => candidate.cluster === cluster)
    const holder = record && (await readLock(lockFile(config.workdir, record.variant)))
    if (!holder || !isAlive(holder) || holder.pid === process.pid) continue
    if (options.force) {
      deps.stderr.write(`warning: cluster ${cluster} is in use by a running kspawn run of variant ${record.variant} (pid ${holder.pid}, \`${holder.command}\`, run ${holder.run}): removing it anyway (--force); that run's commands on it will fail, and its summary will say the cluster is gone\n`)
      continue
    }
    deps.stderr.write(`cluster ${cluster} is in use by a running kspawn run of variant ${record.variant} (pid ${holder.pid}, \`${holder.command}\`, run ${holder.run}): left alone; stop that run first, or rerun with --force to remove it anyway\n`)
    inUse.push(cluster)
    exitCode = 1
  }
  const doomed = chosen.filter((cluster) => !leftAlone.includes(cluster) && !inUse.includes(cluster))
  if (options.all && doomed.length === 0) deps.stdout.write('kspawn has no cluster to remove.\n')
  if (options.all && theirs.length > 0) {
    deps.stdout.write(`left alone, not made by kspawn: ${theirs.join(', ')} (kspawn down --force <cluster> removes one)\n`)
  }
  if (doomed.length === 0) return exitCode

  const dryRun = options.dryRun ?? false
  const now = new Date()
  const { dir } = dryRun ? plannedRunDir(config.workdir, 'down', now) : await createRunDir(config.workdir, 'down', now)
  const ioFor = commandIO({ runDir: dir, dryRun, step: 'down' }, deps)
  for (const cluster of doomed) {
    const record = records.find((candidate) => candidate.cluster === cluster)
    const deployer = record ? deployerOf(record, config) : owners.get(cluster)
    if (!deployer) {
      deps.stderr.write(`cannot remove cluster ${cluster}: it was made with the deployer "${record?.deployer.name}", which ${config.file} does not know (its deployers: ${config.plugins.filter((plugin) => plugin.kind === 'deployer').map((plugin) => plugin.name).join(', ')})\n`)
      exitCode = 1
      continue
    }
    // A recorded cluster that the deployer no longer has is only forgotten.
    const gone = !(await deployer.exists(cluster, reads))
    const io = ioFor(cluster)
    try {
      await deployer.down(cluster, io)
    } catch (error) {
      const again = kspawnDownCommand({ configArgs: configArgs(options.config) }, cluster, options.force === true && !ours.includes(cluster))
      deps.stderr.write(`${await removalFailed(deployer, cluster, error, io, `could not remove cluster ${cluster}`, again)}\n`)
      exitCode = 1
      continue
    }
    if (dryRun) continue
    await removeClusterRecord(config.workdir, cluster)
    if (gone) deps.stdout.write(`forgot cluster ${cluster}: ${deployer.name} no longer had it\n`)
    else deps.stdout.write(`removed cluster ${cluster}${ours.includes(cluster) ? '' : " (not made by kspawn; removed with --force)"}\n`)
  }
  if (!dryRun) deps.stdout.write(`Logs: ${dir}\n`)
  return exitCode
}

function list(clusters: string[]): string {
  return clusters.length === 0 ? 'none' : clusters.join(', ')
}
