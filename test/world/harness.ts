// What tests and benchmarks use to act in the test world: run commands in its
// environment, build a branch of the fixture the article's way, and spawn a
// cluster on it with kube-spawn (or use a kind cluster the same way).
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { $ } from 'zx'
import { BRANCHES } from './fixture/generate.ts'
import { loadWorldEnv, type WorldEnv } from './state.ts'

export type World = WorldEnv & { PATH: string }

let cached: World | undefined
/** The world's environment; throws with what to do when it is not up. */
export function world(): World {
  cached ??= loadWorldEnv()
  return cached
}

export interface Result {
  exitCode: number
  stdout: string
  stderr: string
  /** stdout and stderr as a terminal would have shown them, interleaved by arrival. */
  output: string
}

export interface ShOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  timeoutMs?: number
  input?: string
}

/** Run argv in the world's environment; never throws on a non-zero exit. */
export async function sh(argv: string[], options: ShOptions = {}): Promise<Result> {
  const env = { ...process.env, ...world(), ...options.env } as Record<string, string>
  const command = $({
    cwd: options.cwd ?? process.cwd(),
    env,
    quiet: true,
    nothrow: true,
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  })`${argv}`
  const out = await command
  return { exitCode: out.exitCode ?? -1, stdout: out.stdout, stderr: out.stderr, output: out.toString() }
}

/** Like sh(), but a non-zero exit fails with everything the command printed. */
export async function must(argv: string[], options: ShOptions = {}): Promise<Result> {
  const result = await sh(argv, options)
  if (result.exitCode !== 0) {
    throw new Error(`\`${argv.join(' ')}\` exited with ${result.exitCode}\n${result.output.slice(-4000)}`)
  }
  return result
}

export const HYPERKUBE = 'gcr.io/google-containers/hyperkube-amd64'

export const branches = BRANCHES

export const messages = {
  denyattach: 'cannot attach to a container, rejected by admission controller',
  denyattachfix: 'cannot attach to a container, rejected by DenyAttach',
} as const

export interface Checkout {
  gopath: string
  tree: string
  remove(): Promise<void>
}

/**
 * A developer's own $GOPATH/src/k8s.io/kubernetes, cloned from the upstream
 * fixture and checked out at a fork branch or an upstream ref.
 */
export async function checkout(at: { branch: string } | { upstreamRef: string }): Promise<Checkout> {
  const gopath = await mkdtemp(join(tmpdir(), 'kspawn-gopath-'))
  const tree = join(gopath, 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, tree])
  if ('branch' in at) {
    await must(['git', 'fetch', '--quiet', world().KSPAWN_WORLD_FORK, at.branch], { cwd: tree })
    await must(['git', 'checkout', '--quiet', 'FETCH_HEAD'], { cwd: tree })
  } else {
    await must(['git', 'checkout', '--quiet', at.upstreamRef], { cwd: tree })
  }
  return { gopath, tree, remove: () => rm(gopath, { recursive: true, force: true }) }
}

/** The article's build: `build/run.sh make`, then the hyperkube image with that tag. */
export async function buildImage(tree: Checkout, tag: string): Promise<void> {
  await must(['build/run.sh', 'make'], { cwd: tree.tree })
  await must(['make', '-C', 'cluster/images/hyperkube', `VERSION=${tag}`], { cwd: tree.tree })
}

/** --build-info of a built artifact in the tree's _output. */
export async function buildInfo(tree: Checkout, artifact = 'hyperkube'): Promise<{ gitVersion: string } & Record<string, unknown>> {
  const result = await must([join(tree.tree, '_output', 'dockerized', 'bin', 'linux', 'amd64', artifact), '--build-info'])
  return JSON.parse(result.stdout) as { gitVersion: string }
}

export interface Cluster {
  name: string
  kubeconfig: string
  kubectl(args: string[], options?: ShOptions): Promise<Result>
  destroy(): Promise<void>
}

export function kubeSpawn(args: string[], options: ShOptions = {}): Promise<Result> {
  return sh(['kube-spawn', '-d', world().KSPAWN_WORLD_KUBE_SPAWN_DIR, ...args], options)
}

/** `kube-spawn create --dev -t TAG -c NAME` and `start`, as the article does. */
export async function spawnCluster(name: string, tag: string, tree: Checkout): Promise<Cluster> {
  const env = { GOPATH: tree.gopath }
  for (const args of [['create', '--dev', '-t', tag, '-c', name], ['start', '-c', name]]) {
    const result = await kubeSpawn(args, { env })
    if (result.exitCode !== 0) throw new Error(`kube-spawn ${args.join(' ')} exited with ${result.exitCode}\n${result.output}`)
  }
  const kubeconfig = join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, name, 'kubeconfig')
  return {
    name,
    kubeconfig,
    kubectl: (args, options = {}) => sh(['kubectl', ...args], { ...options, env: { KUBECONFIG: kubeconfig, ...options.env } }),
    destroy: async () => {
      await kubeSpawn(['stop', '-c', name])
      await kubeSpawn(['destroy', '-c', name])
    },
  }
}

/** A kind cluster as the article's test uses a cluster: kubectl with its kubeconfig; destroy is `kind delete cluster`. */
export function kindCluster(name: string, kubeconfig: string, options: ShOptions = {}): Cluster {
  return {
    name,
    kubeconfig,
    kubectl: (args, more = {}) => sh(['kubectl', ...args], { ...options, ...more, env: { ...options.env, KUBECONFIG: kubeconfig, ...more.env } }),
    destroy: async () => {
      await sh(['kind', 'delete', 'cluster', '--name', name, '--kubeconfig', kubeconfig], options)
    },
  }
}

/**
 * All `count` nodes of the cluster registered and Ready. kube-spawn start
 * returns once kubeadm join is done; the node's kubelet registers shortly
 * after, so there is first a wait for every node to be there.
 */
export async function nodesReady(cluster: Cluster, count = 2): Promise<Result> {
  const deadline = Date.now() + 120_000
  for (;;) {
    const listed = await mustK(cluster, ['get', 'nodes', '-o', 'name'])
    if (listed.stdout.trim().split('\n').filter(Boolean).length >= count) break
    if (Date.now() > deadline) throw new Error(`cluster ${cluster.name}: ${count} nodes were not registered after 120 s; kubectl get nodes -o name:\n${listed.output}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  return mustK(cluster, ['wait', '--for=condition=Ready', 'node', '--all', '--timeout=120s'])
}

const DATE_LINE = /UTC \d{4}$/m

/** The article's test: nodes Ready (`nodes` of them), a pod that prints the date, then attach. */
export async function articleTest(cluster: Cluster, nodes = 2): Promise<{ logs: Result; attach: Result }> {
  await nodesReady(cluster, nodes)
  await mustK(cluster, ['run', 'mypod', '--image=busybox', '--command', '--', '/bin/sh', '-c', 'while true ; do sleep 1 ; date ; done'])
  await mustK(cluster, ['wait', '--for=condition=Ready', 'pod/mypod', '--timeout=120s'])
  // The pod prints a date a second: its logs have one soon.
  const deadline = Date.now() + 120_000
  let logs = await mustK(cluster, ['logs', 'mypod'])
  while (!DATE_LINE.test(logs.stdout) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    logs = await mustK(cluster, ['logs', 'mypod'])
  }
  return { logs, attach: await attach(cluster) }
}

/**
 * `kubectl attach mypod`, until it has streamed a date line or ended by
 * itself (denied), for at most two minutes; a kubectl still streaming is then
 * stopped, and its exit code is -1.
 */
async function attach(cluster: Cluster): Promise<Result> {
  const child = spawn('kubectl', ['attach', 'mypod'], { env: { ...process.env, ...world(), KUBECONFIG: cluster.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  let output = ''
  let exitCode: number | null = null
  let ended = false
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 120_000)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      output += chunk.toString()
      if (DATE_LINE.test(stdout)) done()
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      output += chunk.toString()
    })
    child.on('close', (code) => {
      exitCode = code
      ended = true
      done()
    })
  })
  if (!ended) {
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
    child.kill('SIGTERM')
    await closed
    exitCode = -1
  }
  return { exitCode: exitCode ?? -1, stdout, stderr, output }
}

async function mustK(cluster: Cluster, args: string[]): Promise<Result> {
  const result = await cluster.kubectl(args)
  if (result.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} (cluster ${cluster.name}) exited with ${result.exitCode}\n${result.output}`)
  return result
}
