// Which clusters kspawn made: one file per cluster, <workdir>/clusters/<cluster>.json,
// written before the cluster is started so that a half-made one is known too.
// Membership is recorded, never guessed from names; whether a cluster runs is
// the deployer's to say (its own files and machines).
import { writeJsonFile } from './json-file.ts'
import { readdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import type { Config } from './config/config.ts'
import type { Deployer } from './plugin.ts'

export interface ClusterRecord {
  cluster: string
  variant: string
  /** The tag of the image the cluster runs. */
  tag: string
  /** The local image the deployer runs, e.g. gcr.io/google-containers/hyperkube-amd64:<tag> for kube-spawn. */
  image: string
  /** The deployer and its settings when the cluster was made, e.g. { name: 'kube-spawn', nodes: 2, dir: '/var/lib/kube-spawn' }. */
  deployer: { name: string } & Record<string, unknown>
  kubeconfig: string
  /** ISO 8601. */
  created: string
  /** The run that made it. */
  run: string
  /** The config file whose variant it is. */
  config: string
  /**
   * What the cluster was made to run, as cluster-up fingerprints it (the
   * image's id, the binaries the machines took): a rerun on the same build
   * reuses the cluster, one on another build replaces it.
   */
  runs?: string
  /**
   * Set while the cluster is being made, removed once it is up: a record that
   * still has it when its run has ended is of a cluster left half made (its
   * making was killed or cut short), which a rerun replaces instead of reusing.
   */
  making?: true
}

export function clusterRecordsFolder(workdir: string): string {
  return path.join(workdir, 'clusters')
}

function recordFile(workdir: string, cluster: string): string {
  return path.join(clusterRecordsFolder(workdir), `${cluster}.json`)
}

export async function writeClusterRecord(workdir: string, record: ClusterRecord): Promise<void> {
  await writeJsonFile(recordFile(workdir, record.cluster), record)
}

/** kspawn's record of one cluster, when it has one. */
export async function readClusterRecord(workdir: string, cluster: string): Promise<ClusterRecord | undefined> {
  return (await readClusterRecords(workdir)).find((record) => record.cluster === cluster)
}

export async function removeClusterRecord(workdir: string, cluster: string): Promise<void> {
  await rm(recordFile(workdir, cluster), { force: true })
}

/** kspawn's clusters, by name. */
export async function readClusterRecords(workdir: string): Promise<ClusterRecord[]> {
  const names = await readdir(clusterRecordsFolder(workdir)).catch(() => [] as string[])
  const records: ClusterRecord[] = []
  for (const name of names.filter((file) => file.endsWith('.json')).sort()) {
    const file = path.join(clusterRecordsFolder(workdir), name)
    try {
      records.push(JSON.parse(await readFile(file, 'utf8')) as ClusterRecord)
    } catch (error) {
      throw new Error(`could not read ${file}, kspawn's record of a cluster it made: ${(error as Error).message}; remove the file if that cluster is gone`, { cause: error })
    }
  }
  return records
}

/** The deployers a config's clusters run on: the config's and each variant's own, each once (the same plugin with the same settings is one). */
export function configDeployers(config: Config): Deployer[] {
  const deployers = new Map<string, Deployer>()
  for (const deployer of [config.deployer, ...config.variants.map((variant) => variant.deployer)]) {
    const key = deployerKey(deployer.name, deployer.options)
    if (!deployers.has(key)) deployers.set(key, deployer)
  }
  return [...deployers.values()]
}

/**
 * The deployer that made a recorded cluster, with the settings it was made
 * with: one of the config's when it has those, else the record's settings
 * made into a deployer by its plugin; undefined when no plugin of that name is known.
 */
export function deployerOf(record: ClusterRecord, config: Config): Deployer | undefined {
  const { name, ...options } = record.deployer
  const same = configDeployers(config).find((deployer) => deployerKey(deployer.name, deployer.options) === deployerKey(name, options))
  if (same) return same
  const plugin = config.plugins.find((definition) => definition.kind === 'deployer' && definition.name === name)
  return plugin?.revive({ kind: 'deployer', name, options }) as Deployer | undefined
}

/** Whether the record's cluster was made by this deployer with these very settings. */
export function madeBy(record: ClusterRecord, deployer: Deployer): boolean {
  const { name, ...options } = record.deployer
  return deployerKey(name, options) === deployerKey(deployer.name, deployer.options)
}

function deployerKey(name: string, options: object): string {
  const sorted = Object.fromEntries(Object.entries(options).sort(([a], [b]) => a.localeCompare(b)))
  return JSON.stringify([name, sorted])
}
