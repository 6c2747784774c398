// kind's kubeconfig handling (pkg/cluster/internal/kubeconfig): the admin
// kubeconfig kubeadm wrote in the control-plane node, renamed to
// kind-<cluster> and pointed at the API server's host endpoint, merged into
// the file kubectl would use (--kubeconfig, else the first existing file of
// $KUBECONFIG or its last, else ~/.kube/config) under client-go's lock file,
// and removed from every such file on delete.
import { closeSync, existsSync, openSync, statSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { YAML } from 'zx'
import { wrap } from './errors.ts'
import { sortedYaml } from './yaml.ts'

type Named = { name: string; [key: string]: unknown }

export interface Kubeconfig {
  clusters?: Named[]
  users?: Named[]
  contexts?: Named[]
  'current-context'?: string
  [key: string]: unknown
}

/** KINDClusterKey: what the cluster, user and context are named. */
export function contextFor(cluster: string): string {
  return `kind-${cluster}`
}

/** KINDFromRawKubeadm: kubeadm's admin.conf with kind's names and the given server. */
export function fromKubeadm(raw: string, cluster: string, server: string): Kubeconfig {
  const config = (YAML.parse(raw) ?? {}) as Kubeconfig
  const clusters = config.clusters ?? []
  const users = config.users ?? []
  const contexts = config.contexts ?? []
  if (clusters.length !== 1) throw new Error(`kubeadm KUBECONFIG should have one cluster, but read ${clusters.length}`)
  if (users.length !== 1) throw new Error(`kubeadm KUBECONFIG should have one user, but read ${users.length}`)
  if (contexts.length !== 1) throw new Error(`kubeadm KUBECONFIG should have one context, but read ${contexts.length}`)
  const key = contextFor(cluster)
  clusters[0]!.name = key
  users[0]!.name = key
  contexts[0]!.name = key
  const context = (contexts[0]!.context ?? {}) as Record<string, unknown>
  contexts[0]!.context = { ...context, user: key, cluster: key }
  config['current-context'] = key
  if (server !== '') clusters[0]!.cluster = { ...((clusters[0]!.cluster ?? {}) as Record<string, unknown>), server }
  return config
}

/** Encode: sigs.k8s.io/yaml's output, keys sorted. */
export function encode(config: Kubeconfig): string {
  return sortedYaml(config)
}

/** paths(): --kubeconfig alone, else $KUBECONFIG's entries (empty and repeated ones dropped), else ~/.kube/config. */
export function kubeconfigPaths(explicit: string): string[] {
  if (explicit !== '') return [explicit]
  const fromEnv = [...new Set((process.env.KUBECONFIG ?? '').split(':').filter(Boolean))]
  if (fromEnv.length > 0) return fromEnv
  return [join(process.env.HOME || homedir(), '.kube', 'config')]
}

/** pathForMerge: the first of the paths that exists, else the last. */
export function pathForMerge(explicit: string): string {
  const paths = kubeconfigPaths(explicit)
  if (paths.length === 1) return paths[0]!
  return paths.find((p) => existsSync(p) && !statSync(p).isDirectory()) ?? paths[paths.length - 1]!
}

/** client-go's lock: <file>.lock, created exclusively (its folder made if missing). */
async function withLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`
  try {
    await mkdir(dirname(file), { recursive: true })
    closeSync(openSync(lock, 'wx', 0o600))
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    throw new Error(e.code === 'EEXIST' ? `open ${lock}: file exists` : e.message)
  }
  try {
    return await fn()
  } finally {
    await rm(lock, { force: true })
  }
}

async function read(file: string): Promise<Kubeconfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw error
  }
  return (YAML.parse(text) ?? {}) as Kubeconfig
}

async function write(config: Kubeconfig, file: string): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o755 })
  } catch (error) {
    throw wrap(error, 'failed to create directory for KUBECONFIG')
  }
  try {
    await writeFile(file, encode(config), { mode: 0o600 })
  } catch (error) {
    throw wrap(error, 'failed to write KUBECONFIG')
  }
}

function upsert(list: Named[] | undefined, entry: Named): Named[] {
  const out = [...(list ?? [])]
  const at = out.findIndex((e) => e.name === entry.name)
  if (at >= 0) out[at] = entry
  else out.push(entry)
  return out
}

/** WriteMerged: the kind entries inserted or replaced, current-context set to them. */
export async function writeMerged(kind: Kubeconfig, explicit: string): Promise<void> {
  const file = pathForMerge(explicit)
  try {
    await withLock(file, async () => {
      const existing = await read(file).catch((error: unknown) => {
        throw wrap(error, 'failed to get kubeconfig to merge')
      })
      existing.clusters = upsert(existing.clusters, kind.clusters![0]!)
      existing.users = upsert(existing.users, kind.users![0]!)
      existing.contexts = upsert(existing.contexts, kind.contexts![0]!)
      existing['current-context'] = kind['current-context']
      if (existing.apiVersion === undefined && existing.kind === undefined) {
        existing.apiVersion = kind.apiVersion
        existing.kind = kind.kind
        existing.preferences = kind.preferences
      }
      await write(existing, file)
    })
  } catch (error) {
    if ((error as Error).message.startsWith('open ')) throw wrap(error, 'failed to lock config file')
    throw error
  }
}

/** Remove: the kind-<cluster> entries out of every file kubectl would read; a file is rewritten only if that changed it. */
export async function removeCluster(cluster: string, explicit: string): Promise<void> {
  const key = contextFor(cluster)
  for (const file of kubeconfigPaths(explicit)) {
    await withLock(file, async () => {
      const config = await read(file)
      let changed = false
      for (const field of ['clusters', 'users', 'contexts'] as const) {
        const kept = (config[field] ?? []).filter((e) => e.name !== key)
        if (kept.length !== (config[field] ?? []).length) {
          config[field] = kept
          changed = true
        }
      }
      if (config['current-context'] === key) {
        config['current-context'] = ''
        changed = true
      }
      if (changed) await write(config, file)
    })
  }
}
