// `kspawn clusters`: the clusters kspawn made (its records, engine/cluster-records.ts)
// with their state as the deployer sees it, the KUBECONFIG line of each
// running one and what to do about each one that is not, and the deployer's
// other clusters, marked as not kspawn's.
import { tmpdir } from 'node:os'
import { configDeployers, deployerOf, readClusterRecords, type ClusterRecord } from '../engine/cluster-records.ts'
import { quoteArg } from '../engine/runner/command-line.ts'
import type { ClusterStatus, Deployer } from '../engine/plugin.ts'
import { commandIO } from './command-io.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'
import { configArgs } from './run-from-cli.ts'
import { kspawnDownCommand } from '../engine/run/task.ts'
import { isAlive, lockFile, readLock, type LockRecord } from '../engine/run/run-lock.ts'

export interface ClustersCommandOptions {
  /** --config */
  config?: string
  /** --json: one JSON document on stdout (ClustersJson), instead of the text. */
  json?: boolean
}

export type ClusterState = ClusterStatus['state'] | 'being made' | 'half made' | 'unknown'

/** `kspawn clusters --json`, a stable interface: docs/cli.md describes it; a change that breaks a reader raises `version`. */
export interface ClustersJson {
  version: 1
  /** The config file, absolute. */
  config: string
  /** Where kspawn's records of its clusters are: <workdir>/clusters/<cluster>.json. */
  workdir: string
  /** The clusters kspawn made, by name. */
  clusters: ClusterJson[]
  /** The deployers' clusters that kspawn did not make. */
  others: OtherClusterJson[]
}

export interface ClusterJson {
  name: string
  variant: string
  /** The deployer that made it, e.g. kube-spawn or kind. */
  deployer: string
  tag: string
  /** The image its machines run. */
  image: string
  /** How many machines (nodes) it has: those the deployer lists, else as many as it was made with; null when unknown. */
  nodes: number | null
  /** The machines the deployer lists, and those of them that run. */
  machines: string[]
  running: string[]
  state: ClusterState
  /** Set when state is "running": the KUBECONFIG to reach it. */
  kubeconfig: string | null
  /** The live kspawn run that uses (or is making) it, else null. */
  usedBy: { run: string; pid: number; command: string; since: string } | null
  /** The run that made it, and when. */
  madeBy: { run: string; created: string }
  /** The command line that removes it (or forgets it, when gone). */
  down: string
}

export interface OtherClusterJson {
  name: string
  deployer: string
  tag: string | null
  nodes: number | null
  state: ClusterStatus['state']
  kubeconfig: string | null
}

export async function clustersCommand(options: ClustersCommandOptions, deps: CliDeps): Promise<number> {
  const config = await loadConfigFor(deps, options.config)
  const records = await readClusterRecords(config.workdir)
  const ours = new Set(records.map((record) => record.cluster))
  // Listing only reads: in dry-run the runner runs the deployers' listing commands and writes no log.
  // With --json, nothing but the document goes to stdout: the listing's messages go to stderr.
  const io = commandIO({ runDir: tmpdir(), dryRun: true, step: 'clusters', messagesTo: options.json ? 'stderr' : 'stdout' }, deps)('clusters')
  // Each cluster asked of the deployer that made it; each deployer also lists the clusters kspawn did not make.
  const statuses = new Map<string, ClusterStatus>()
  const deployerNames = new Map<string, string>()
  // One question to each deployer, about all of its clusters.
  const byDeployer = new Map<Deployer, string[]>()
  for (const record of records) {
    const deployer = deployerOf(record, config)
    if (!deployer) continue
    deployerNames.set(record.cluster, deployer.name)
    byDeployer.set(deployer, [...(byDeployer.get(deployer) ?? []), record.cluster])
  }
  for (const [deployer, clusters] of byDeployer) {
    for (const [cluster, status] of await deployer.status(clusters, io)) statuses.set(cluster, status)
  }
  const foreignBy: { deployer: Deployer; clusters: string[] }[] = []
  for (const deployer of configDeployers(config)) {
    const clusters = (await deployer.clusters(io)).filter((cluster) => !ours.has(cluster))
    if (clusters.length === 0) continue
    for (const [cluster, status] of await deployer.status(clusters, io)) statuses.set(cluster, status)
    foreignBy.push({ deployer, clusters })
  }

  // The live runs that hold kspawn's clusters' variants: a cluster such a run is making is not yet up, and one it uses is not to be removed.
  const holders = new Map<string, LockRecord>()
  for (const record of records) {
    const holder = await readLock(lockFile(config.workdir, record.variant))
    if (holder && isAlive(holder)) holders.set(record.cluster, holder)
  }
  const stateOf = (record: ClusterRecord): ClusterState => {
    // A cluster made by a deployer this config does not know cannot be asked about.
    if (!deployerNames.has(record.cluster)) return 'unknown'
    if (record.making) return holders.get(record.cluster)?.run === record.run ? 'being made' : 'half made'
    return statuses.get(record.cluster)?.state ?? 'gone'
  }

  // The command as it can be pasted where this one ran: with the same --config, if one was given.
  const down = (cluster: string) => kspawnDownCommand({ configArgs: configArgs(options.config) }, cluster)
  const nodesOf = (record: ClusterRecord) => statuses.get(record.cluster)?.machines.length || Number(record.deployer.nodes ?? 0) || null

  if (options.json) {
    const document: ClustersJson = {
      version: 1,
      config: config.file,
      workdir: config.workdir,
      clusters: records.map((record) => {
        const status = statuses.get(record.cluster)
        const state = stateOf(record)
        const holder = holders.get(record.cluster)
        return {
          name: record.cluster,
          variant: record.variant,
          deployer: record.deployer.name,
          tag: record.tag,
          image: record.image,
          nodes: nodesOf(record),
          machines: status?.machines ?? [],
          running: status?.running ?? [],
          state,
          kubeconfig: state === 'running' ? record.kubeconfig : null,
          usedBy: holder ? { run: holder.run, pid: holder.pid, command: holder.command, since: holder.since } : null,
          madeBy: { run: record.run, created: record.created },
          down: down(record.cluster),
        }
      }),
      others: foreignBy.flatMap(({ deployer, clusters }) =>
        clusters.map((cluster) => {
          const status = statuses.get(cluster)
          const state = status?.state ?? 'gone'
          return { name: cluster, deployer: deployer.name, tag: status?.tag ?? null, nodes: status ? status.machines.length : null, state, kubeconfig: state === 'running' ? deployer.kubeconfig(cluster) : null }
        }),
      ),
    }
    deps.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
    return 0
  }

  const lines: string[] = []
  if (records.length === 0) {
    lines.push(`kspawn has made no cluster that is still recorded (records: ${config.workdir}/clusters/).`)
  } else {
    const rows = records.map((record) => {
      return [record.cluster, record.variant, record.deployer.name, record.tag, String(nodesOf(record) ?? '-'), stateOf(record)]
    })
    lines.push(...table([['CLUSTER', 'VARIANT', 'DEPLOYER', 'TAG', 'NODES', 'STATE'], ...rows], (i) => {
      const record = records[i]
      if (!record) return []
      if (!deployerNames.has(record.cluster)) {
        const known = config.plugins.filter((plugin) => plugin.kind === 'deployer').map((plugin) => plugin.name)
        return [`    made with the deployer "${record.deployer.name}", which ${config.file} does not know (its deployers: ${known.join(', ')}): add its plugin to the config to reach it`]
      }
      const holder = holders.get(record.cluster)
      const beingMade = stateOf(record) === 'being made'
      const using = holder ? [`    ${beingMade ? 'being made' : 'in use'} by run ${holder.run} (pid ${holder.pid}, ${holder.command}, since ${holder.since})`] : []
      if (beingMade) return using
      if (record.making) return [...using, `    run ${record.run} began it and ended before it was up (interrupted or killed); the next run of variant ${record.variant} makes it anew, or remove it with: ${down(record.cluster)}`]
      return [...using, ...advice(deployerNames.get(record.cluster)!, record, statuses.get(record.cluster), down(record.cluster))]
    }))
  }
  for (const { deployer, clusters: foreign } of foreignBy) {
    lines.push('', `Not made by kspawn, among ${deployer.name}'s clusters (kspawn down leaves them alone unless --force):`)
    const rows = foreign.map((cluster) => {
      const status = statuses.get(cluster)
      return [cluster, status?.tag ?? '-', String(status?.machines.length ?? '-'), status?.state ?? 'gone']
    })
    lines.push(...table([['CLUSTER', 'TAG', 'NODES', 'STATE'], ...rows], (i) => {
      const cluster = foreign[i]
      return cluster && statuses.get(cluster)?.state === 'running' ? [`    export KUBECONFIG=${quoteArg(deployer.kubeconfig(cluster))}`] : []
    }))
  }
  deps.stdout.write(`${lines.join('\n')}\n`)
  return 0
}

/** The line under one of kspawn's clusters: how to reach it when it runs, how to remove (or forget) it when it does not. */
function advice(deployer: string, record: ClusterRecord, status: ClusterStatus | undefined, down: string): string[] {
  switch (status?.state ?? 'gone') {
    case 'running':
      return [`    export KUBECONFIG=${quoteArg(record.kubeconfig)}`]
    case 'partly running': {
      const stopped = (status?.machines ?? []).filter((machine) => !status?.running.includes(machine))
      return [`    ${stopped.join(', ')} ${stopped.length === 1 ? 'does' : 'do'} not run, so the cluster is not whole; remove it with: ${down}`]
    }
    case 'stopped':
      return [`    none of its machines runs; remove it with: ${down}`]
    case 'gone':
      return [`    ${deployer} no longer has it; forget it with: ${down}`]
  }
}

/** Rows padded into columns; `after(i)` adds lines under data row i. */
function table(rows: string[][], after: (i: number) => string[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  const format = (row: string[]) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd()
  return rows.flatMap((row, i) => (i === 0 ? [format(row)] : [format(row), ...after(i - 1)]))
}
