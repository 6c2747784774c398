// kind's docker provider, in the test world: node containers named and
// labelled as kind names and labels them, found by label only, run from the
// node image with kind's arguments where the world's engine allows them, and
// commands run in them with `docker exec`.
//
// What the world's engine cannot do: --privileged (run or exec: the engine
// may not grant capabilities here), kind's bridge network `kind` (the engine
// has no bridge: nodes get --network none, and an address the world hands
// out, 172.18.0.x, kept in a label of its own since docker assigns none),
// publishing the API server's port, and mounting /lib/modules.
import { withMachineLock } from '../machines.ts'
import { wrap } from './errors.ts'
import { exec, outputLines } from './exec.ts'
import { CONTROL_PLANE_ROLE, type ClusterConfig } from './config.ts'

export const CLUSTER_LABEL = 'io.x-k8s.kind.cluster'
export const ROLE_LABEL = 'io.x-k8s.kind.role'
/** The world's own label: the address docker's IPAM would have given the node on kind's network. */
export const ADDRESS_LABEL = 'io.kspawn.world.address'
export const LOAD_BALANCER_ROLE = 'external-load-balancer'
/** kind's load balancer image (pkg/cluster/internal/loadbalancer/const.go). */
export const LOAD_BALANCER_IMAGE = 'docker.io/envoyproxy/envoy:v1.36.2'
const BOOTED = /Reached target .*Multi-User System.*|detected cgroup v1/

export interface PlannedNode {
  name: string
  role: string
  image: string
}

/** common.MakeNodeNamer: <cluster>-<role>, then <cluster>-<role>2, 3, ... per role, in config order. */
export function planNodes(config: ClusterConfig): PlannedNode[] {
  const counts = new Map<string, number>()
  const name = (role: string): string => {
    const n = (counts.get(role) ?? 0) + 1
    counts.set(role, n)
    return `${config.name}-${role}${n === 1 ? '' : n}`
  }
  const nodes = config.nodes.map((node) => ({ name: name(node.role), role: node.role, image: node.image }))
  // More than one control plane puts kind's load balancer in front of them.
  if (config.nodes.filter((node) => node.role === CONTROL_PLANE_ROLE).length > 1) {
    nodes.push({ name: name(LOAD_BALANCER_ROLE), role: LOAD_BALANCER_ROLE, image: LOAD_BALANCER_IMAGE })
  }
  return nodes
}

/** ListNodes: `docker ps -a --filter label=io.x-k8s.kind.cluster=<name> --format '{{.Names}}'`, in docker's order (newest first). */
export async function listNodes(cluster: string): Promise<string[]> {
  try {
    return await outputLines(['docker', 'ps', '-a', '--filter', `label=${CLUSTER_LABEL}=${cluster}`, '--format', '{{.Names}}'])
  } catch (error) {
    throw wrap(error, 'failed to list nodes')
  }
}

/** List: the distinct values of the cluster label, sorted. */
export async function listClusters(): Promise<string[]> {
  try {
    const lines = await outputLines(['docker', 'ps', '-a', '--filter', `label=${CLUSTER_LABEL}`, '--format', `{{.Label "${CLUSTER_LABEL}"}}`])
    return [...new Set(lines)].sort()
  } catch (error) {
    throw wrap(error, 'failed to list clusters')
  }
}

/** A node's role, as kind reads it back: from its label. */
export async function nodeRole(node: string): Promise<string> {
  const lines = await outputLines(['docker', 'inspect', '--format', `{{ index .Config.Labels "${ROLE_LABEL}"}}`, node])
  return lines[0] ?? ''
}

/** The address the world gave the node. */
export async function nodeAddress(node: string): Promise<string> {
  const lines = await outputLines(['docker', 'inspect', '--format', `{{ index .Config.Labels "${ADDRESS_LABEL}"}}`, node])
  return lines[0] ?? ''
}

/** Lowest free addresses of 172.18.0.0/16 (kind's network, as docker usually makes it) for `count` nodes; call under the lock. */
async function freeAddresses(count: number): Promise<string[]> {
  const used = new Set(await outputLines(['docker', 'ps', '-a', '--filter', `label=${ADDRESS_LABEL}`, '--format', `{{.Label "${ADDRESS_LABEL}"}}`]))
  const free: string[] = []
  for (let i = 2; i < 65534 && free.length < count; i++) {
    const address = `172.18.${Math.floor(i / 256)}.${i % 256}`
    if (i % 256 !== 0 && i % 256 !== 255 && !used.has(address)) free.push(address)
  }
  return free
}

/** The `docker run` of one node, kind's arguments (planCreation, commonArgs) minus what the world's engine cannot do. */
export function runNodeArgv(cluster: string, node: PlannedNode, address: string): string[] {
  const common = ['--detach', '--tty', '--label', `${CLUSTER_LABEL}=${cluster}`, '--network', 'none', '--restart=on-failure:1', '--init=false', '--cgroupns=private']
  if (node.role === LOAD_BALANCER_ROLE) {
    return ['docker', 'run', '--name', node.name, '--hostname', node.name, '--label', `${ROLE_LABEL}=${node.role}`, ...common, node.image]
  }
  return [
    'docker', 'run', '--name', node.name,
    '--hostname', node.name,
    '--label', `${ROLE_LABEL}=${node.role}`,
    '--security-opt', 'seccomp=unconfined',
    '--security-opt', 'apparmor=unconfined',
    '--tmpfs', '/tmp',
    '--tmpfs', '/run',
    '--volume', '/var',
    '-e', 'KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER',
    ...common,
    '--label', `${ADDRESS_LABEL}=${address}`,
    ...(node.role === CONTROL_PLANE_ROLE ? ['-e', 'KUBECONFIG=/etc/kubernetes/admin.conf'] : []),
    node.image,
  ]
}

/** Provision's containers: run side by side (addresses handed out first, under the world's lock), each awaited until it has booted. */
export async function createNodes(cluster: string, nodes: PlannedNode[]): Promise<void> {
  await withMachineLock(async () => {
    const free = await freeAddresses(nodes.length)
    // Claimed by running the containers while the lock is held.
    await Promise.all(
      nodes.map(async (node, i) => {
        try {
          await exec(runNodeArgv(cluster, node, free[i] ?? ''))
        } catch (error) {
          throw wrap(error, 'docker run error')
        }
      }),
    )
  })
  await Promise.all(nodes.filter((node) => node.role !== LOAD_BALANCER_ROLE).map((node) => waitForBoot(node.name)))
}

/** kind waits up to 30 s for systemd's "Reached target Multi-User System" in the node's log. */
async function waitForBoot(node: string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const logs = await exec(['docker', 'logs', node]).catch(() => ({ combined: '' }))
    if (logs.combined.split(/\r?\n/).some((line) => BOOTED.test(line))) return
    if (Date.now() > deadline) throw new Error(`could not find a log line that matches "${BOOTED.source}"`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** node.Command: `docker exec [-i] <node> <argv...>` (kind adds --privileged, which the world's engine refuses). */
export function nodeCommandArgv(node: string, argv: string[], stdin = false): string[] {
  return ['docker', 'exec', ...(stdin ? ['-i'] : []), node, ...argv]
}

export async function nodeExec(node: string, argv: string[], input?: string): Promise<string> {
  return (await exec(nodeCommandArgv(node, argv, input !== undefined), input === undefined ? {} : { input })).stdout
}

/** nodeutils.WriteFile: mkdir -p of its folder, then cp /dev/stdin to it. */
export async function writeNodeFile(node: string, path: string, content: string): Promise<void> {
  await nodeExec(node, ['mkdir', '-p', path.slice(0, path.lastIndexOf('/')) || '/'])
  await nodeExec(node, ['cp', '/dev/stdin', path], content)
}

/** nodeutils.KubeVersion: /kind/version of the node. */
export async function kubeVersion(node: string): Promise<string> {
  try {
    return (await nodeExec(node, ['cat', '/kind/version'])).trim()
  } catch (error) {
    throw wrap(error, 'failed to get file')
  }
}

/** DeleteNodes: `docker rm -f -v <node>...`. */
export async function deleteNodes(nodes: string[]): Promise<void> {
  if (nodes.length === 0) return
  try {
    await exec(['docker', 'rm', '-f', '-v', ...nodes])
  } catch (error) {
    throw wrap(error, 'failed to delete nodes')
  }
}
