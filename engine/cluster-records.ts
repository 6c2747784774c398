// Which clusters kspawn made: one file per cluster, <workdir>/clusters/<cluster>.json,
// written before the cluster is started so that a half-made one is known too.
// Membership is recorded, never guessed from names; whether a cluster runs is
// the deployer's to say (kube-spawn's own files and the machines).
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

export interface ClusterRecord {
  cluster: string
  variant: string
  /** The hyperkube image tag the cluster runs. */
  tag: string
  /** The local image the deployer takes, gcr.io/google-containers/hyperkube-amd64:<tag>. */
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
}

export function clusterRecordsFolder(workdir: string): string {
  return path.join(workdir, 'clusters')
}

function recordFile(workdir: string, cluster: string): string {
  return path.join(clusterRecordsFolder(workdir), `${cluster}.json`)
}

export async function writeClusterRecord(workdir: string, record: ClusterRecord): Promise<void> {
  await mkdir(clusterRecordsFolder(workdir), { recursive: true })
  await writeFile(recordFile(workdir, record.cluster), `${JSON.stringify(record, null, 2)}\n`)
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
