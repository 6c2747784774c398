import { docker, inspectContainers, type ContainerInspect } from './docker.ts'
import type { EventRecorder } from './events.ts'
import { pullImage } from './images.ts'
import type { NodeMonitor } from './nodes.ts'
import { BACKOFF_MAX_MS, BACKOFF_START_MS, containerStatus, podStatus, terminatedState, type ContainerState } from './podstatus.ts'
import { nowSeconds, type Store } from './store.ts'
import type { KubeObject } from './types.ts'

// The scheduler and the kubelets of the cluster in one place: binds pending
// pods to a Ready non-master node and runs each container as a real Docker
// container on the world's engine, reporting what `docker inspect` says.

export const LABEL_CLUSTER = 'io.kspawn.world.cluster'
export const LABEL_NODE = 'io.kspawn.world.node'
/** The master machine's container id: pods belong to that incarnation of the cluster. */
export const LABEL_MASTER = 'io.kspawn.world.master'
export const LABEL_POD = 'io.kspawn.world.pod'
export const LABEL_POD_UID = 'io.kubernetes.pod.uid'
export const LABEL_CONTAINER = 'io.kubernetes.container.name'
export const LABEL_POD_IP = 'io.kspawn.world.pod-ip'

const TICK_MS = 1000
const ERR_IMAGE_PULL_SHOWN_MS = 1500

interface Worker {
  uid: string
  namespace: string
  name: string
  containers: ContainerState[]
  podIP?: string
  busy: boolean
  terminating: boolean
  unschedulableSince?: number
}

export interface KubeletOptions {
  clusterName: string
  /** Container name of the master machine. */
  master: string
  graceCapSeconds: number
  log: (msg: string) => void
}

export class Kubelet {
  private readonly workers = new Map<string, Worker>()
  private timer?: NodeJS.Timeout
  private ticking = false
  private readonly ipCounters = new Map<string, number>()
  private masterId = ''
  private stopped = false

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly nodes: NodeMonitor,
    private readonly opts: KubeletOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), TICK_MS)
  }

  /**
   * Removes the cluster's pod containers: a stopped kube-spawn cluster loses its
   * machines, and with them the pods' containers and etcd.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.stopped = true
    // Let a `docker run` in flight finish, so that its container is removed too.
    const deadline = Date.now() + 15_000
    while ([...this.workers.values()].some((w) => w.busy) && Date.now() < deadline) await sleep(50)
    const ids = [...this.workers.values()].flatMap((w) => w.containers.map((c) => c.id).filter((x): x is string => !!x))
    if (ids.length) await docker(['rm', '-f', ...ids]).catch(() => undefined)
  }

  dockerName(container: string, pod: string, namespace: string): string {
    return `k8s_${container}_${pod}_${namespace}_${this.opts.clusterName}`
  }

  /** Called for every created pod; adopted pods come with their existing containers. */
  admit(pod: KubeObject, existing: ContainerInspect[] = []): void {
    const w: Worker = {
      uid: pod.metadata.uid,
      namespace: pod.metadata.namespace!,
      name: pod.metadata.name,
      containers: (pod.spec.containers as { name: string; image: string }[]).map((c) => ({
        name: c.name,
        image: c.image,
        dockerName: this.dockerName(c.name, pod.metadata.name, pod.metadata.namespace!),
        waiting: { reason: 'ContainerCreating' },
        restarts: 0,
        crashBackoffMs: 0,
        backoffMs: BACKOFF_START_MS,
        nextAttemptAt: 0,
      })),
      busy: false,
      terminating: false,
    }
    for (const c of w.containers) {
      const ins = existing.find((x) => x.Config.Labels?.[LABEL_CONTAINER] === c.name)
      if (!ins) continue
      c.id = ins.Id
      c.imageID = ins.Image
      c.waiting = undefined
      // It exited while no kubelet watched: the restart policy applies now.
      if (!ins.State.Running && pod.spec.restartPolicy !== 'Never') c.restartAt = 0
    }
    const ip = existing.map((x) => x.Config.Labels?.[LABEL_POD_IP]).find(Boolean)
    if (ip) {
      w.podIP = ip
      // New pods on that node must not get an adopted pod's address.
      const node = pod.spec.nodeName as string
      this.ipCounters.set(node, Math.max(this.ipCounters.get(node) ?? 1, Number(ip.split('.')[3])))
    }
    this.workers.set(w.uid, w)
    void this.sync(w)
  }

  /** Container ids by container name, for logs and attach. */
  container(pod: KubeObject, name: string): ContainerState | undefined {
    return this.workers.get(pod.metadata.uid)?.containers.find((c) => c.name === name)
  }

  /** Graceful deletion: stop the containers, then remove the pod object. */
  terminate(pod: KubeObject, graceSeconds: number): void {
    const w = this.workers.get(pod.metadata.uid)
    if (!w) {
      this.store.remove('pods', pod.metadata.namespace, pod.metadata.name)
      return
    }
    w.terminating = true
    void (async () => {
      while (w.busy) await sleep(50)
      w.busy = true
      const ids = w.containers.map((c) => c.id).filter((x): x is string => !!x)
      for (const c of w.containers) {
        if (c.id) this.events.record(pod, 'Normal', 'Killing', `Stopping container ${c.name}`, this.source(pod), `spec.containers{${c.name}}`)
      }
      const t = Math.max(0, Math.min(graceSeconds, this.opts.graceCapSeconds))
      if (ids.length) {
        await docker(['stop', '-t', String(t), ...ids]).catch(() => undefined)
        await docker(['rm', '-f', ...ids]).catch((err) => this.opts.log(`rm: ${(err as Error).message}`))
      }
      this.workers.delete(w.uid)
      this.store.remove('pods', w.namespace, w.name)
    })()
  }

  /**
   * Takes back the pods of an emulator that died without cleaning up, if the
   * cluster's machines are the same ones (same master container); containers
   * of an earlier incarnation of the cluster are removed.
   */
  async adopt(): Promise<void> {
    this.masterId = (await inspectContainers([this.opts.master]))[0]?.Id ?? ''
    const { stdout } = await docker(['ps', '-a', '-q', '--no-trunc', '--filter', `label=${LABEL_CLUSTER}=${this.opts.clusterName}`])
    const found = await inspectContainers(stdout.split('\n').filter(Boolean))
    const stale = found.filter((c) => !this.masterId || c.Config.Labels?.[LABEL_MASTER] !== this.masterId)
    if (stale.length) {
      await docker(['rm', '-f', ...stale.map((c) => c.Id)]).catch(() => undefined)
      this.opts.log(`removed ${stale.length} pod container(s) of an earlier incarnation of the cluster`)
    }
    const byPod = new Map<string, ContainerInspect[]>()
    for (const c of found.filter((x) => !stale.includes(x))) {
      const uid = c.Config.Labels?.[LABEL_POD_UID]
      if (uid) byPod.set(uid, [...(byPod.get(uid) ?? []), c])
    }
    for (const list of byPod.values()) {
      const saved = list.map((c) => c.Config.Labels?.[LABEL_POD]).find(Boolean)
      if (!saved) continue
      let pod: KubeObject
      try {
        pod = JSON.parse(saved) as KubeObject
      } catch {
        continue
      }
      if (this.store.get('pods', pod.metadata.namespace, pod.metadata.name)) continue
      const node = this.store.get('nodes', undefined, pod.spec.nodeName)
      const hostIP = (node?.status.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address
      pod.status = { phase: 'Pending', qosClass: 'BestEffort', startTime: pod.metadata.creationTimestamp }
      if (hostIP) Object.assign(pod.status, { hostIP, hostIPs: [{ ip: hostIP }] })
      pod = this.store.create('pods', pod)
      this.admit(pod, list)
      this.opts.log(`adopted pod ${pod.metadata.namespace}/${pod.metadata.name}`)
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking) return
    this.ticking = true
    try {
      await Promise.all([...this.workers.values()].map((w) => this.sync(w)))
    } finally {
      this.ticking = false
    }
  }

  private async sync(w: Worker): Promise<void> {
    if (w.busy || w.terminating || this.stopped) return
    w.busy = true
    try {
      const pod = this.store.get('pods', w.namespace, w.name)
      if (!pod || pod.metadata.uid !== w.uid) {
        this.workers.delete(w.uid)
        return
      }
      if (pod.metadata.deletionTimestamp) return
      if (!pod.spec.nodeName && !this.schedule(w, pod)) return
      const bound = this.store.get('pods', w.namespace, w.name)!
      if (w.containers.some((c) => !c.id)) {
        // Show ContainerCreating while images are pulled and containers created.
        this.writeStatus(w)
        for (const c of w.containers) if (!c.id) await this.startContainer(w, bound, c)
      }
      const ids = w.containers.map((c) => c.id).filter((x): x is string => !!x)
      const inspected = await inspectContainers(ids)
      for (const c of w.containers) {
        if (!c.id) continue
        const ins = inspected.find((i) => i.Id === c.id)
        if (!ins) {
          // Removed behind our back: start it afresh, as the kubelet would.
          c.id = undefined
          c.inspect = undefined
          c.waiting = { reason: 'ContainerCreating' }
          continue
        }
        c.inspect = ins
        await this.restartIfDue(bound, c, ins)
      }
      if (!w.terminating) this.writeStatus(w)
    } catch (err) {
      this.opts.log(`pod ${w.namespace}/${w.name}: ${(err as Error).message}`)
    } finally {
      w.busy = false
    }
  }

  private schedule(w: Worker, pod: KubeObject): boolean {
    const nodes = this.nodes.schedulable()
    if (nodes.length === 0) {
      const total = this.store.list('nodes').length
      const message = `0/${total} nodes are available: ${total} node(s) were not ready or had untolerated taints. preemption: 0/${total} nodes are available: ${total} Preemption is not helpful for scheduling.`
      if (w.unschedulableSince === undefined) {
        w.unschedulableSince = Date.now()
        this.events.record(pod, 'Warning', 'FailedScheduling', message, { component: 'default-scheduler' })
      }
      this.store.mutate('pods', w.namespace, w.name, (p) => {
        p.status.conditions = [
          { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: nowSeconds(new Date(w.unschedulableSince!)), reason: 'Unschedulable', message },
        ]
      })
      return false
    }
    // Spread pods: the node with the fewest of them wins.
    const count = (n: string) => this.store.list('pods').filter((p) => p.spec.nodeName === n).length
    const node = nodes.sort((a, b) => count(a.metadata.name) - count(b.metadata.name))[0]!
    const nodeName = node.metadata.name
    const index = Math.max(0, this.nodes.machineIndex(nodeName))
    const next = (this.ipCounters.get(nodeName) ?? 1) + 1
    this.ipCounters.set(nodeName, next)
    w.podIP = `10.244.${index}.${next}`
    const hostIP = (node.status.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address
    const bound = this.store.mutate('pods', w.namespace, w.name, (p) => {
      p.spec.nodeName = nodeName
      p.status.hostIP = hostIP
      p.status.hostIPs = hostIP ? [{ ip: hostIP }] : undefined
      p.status.startTime = nowSeconds()
    })!
    this.events.record(bound, 'Normal', 'Scheduled', `Successfully assigned ${w.namespace}/${w.name} to ${nodeName}`, { component: 'default-scheduler' })
    return true
  }

  private source(pod: KubeObject) {
    return { component: 'kubelet', host: pod.spec.nodeName as string }
  }

  private async startContainer(w: Worker, pod: KubeObject, c: ContainerState): Promise<void> {
    if (Date.now() < c.nextAttemptAt) {
      if (c.pullFailedAt && Date.now() - c.pullFailedAt > ERR_IMAGE_PULL_SHOWN_MS && c.waiting?.reason === 'ErrImagePull') {
        c.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` }
        this.events.record(pod, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`, this.source(pod), `spec.containers{${c.name}}`)
        this.events.record(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff', this.source(pod), `spec.containers{${c.name}}`)
      }
      return
    }
    const spec = (pod.spec.containers as any[]).find((x) => x.name === c.name)
    const field = `spec.containers{${c.name}}`
    this.events.record(pod, 'Normal', 'Pulling', `Pulling image "${c.image}"`, this.source(pod), field)
    // A slow registry (KSPAWN_WORLD_IMAGE_PULL_SECONDS): the pod shows ContainerCreating meanwhile.
    const pullSeconds = Number(process.env.KSPAWN_WORLD_IMAGE_PULL_SECONDS || '0')
    if (pullSeconds > 0) {
      await sleep(pullSeconds * 1000)
      const still = this.store.get('pods', w.namespace, w.name)
      if (this.stopped || w.terminating || still?.metadata.uid !== w.uid || still.metadata.deletionTimestamp) return
    }
    const pulled = await pullImage(c.image, spec.imagePullPolicy ?? 'IfNotPresent')
    if (!pulled.ok) {
      c.waiting = { reason: 'ErrImagePull', message: pulled.message }
      c.pullFailedAt = Date.now()
      c.nextAttemptAt = Date.now() + c.backoffMs
      c.backoffMs = Math.min(c.backoffMs * 2, BACKOFF_MAX_MS)
      this.events.record(pod, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${pulled.message}`, this.source(pod), field)
      this.events.record(pod, 'Warning', 'Failed', 'Error: ErrImagePull', this.source(pod), field)
      return
    }
    c.pullFailedAt = undefined
    c.backoffMs = BACKOFF_START_MS
    this.events.record(
      pod,
      'Normal',
      'Pulled',
      pulled.pulled || spec.imagePullPolicy === 'Always'
        ? `Successfully pulled image "${c.image}" in 0s`
        : `Container image "${c.image}" already present on machine`,
      this.source(pod),
      field,
    )
    // A leftover container of the same name (not ours) would make `docker run` fail.
    await docker(['rm', '-f', c.dockerName]).catch(() => undefined)
    const args = this.runArgs(w, pod, spec, c)
    try {
      const { stdout } = await docker(args)
      c.id = stdout.trim()
      c.imageID = pulled.imageId
      c.waiting = undefined
      this.events.record(pod, 'Normal', 'Created', `Created container ${c.name}`, this.source(pod), field)
      this.events.record(pod, 'Normal', 'Started', `Started container ${c.name}`, this.source(pod), field)
    } catch (err) {
      const msg = (err as Error).message
      c.waiting = { reason: 'RunContainerError', message: msg }
      c.nextAttemptAt = Date.now() + c.backoffMs
      c.backoffMs = Math.min(c.backoffMs * 2, BACKOFF_MAX_MS)
      this.events.record(pod, 'Warning', 'Failed', `Error: ${msg}`, this.source(pod), field)
      await docker(['rm', '-f', c.dockerName]).catch(() => undefined)
    }
  }

  private runArgs(w: Worker, pod: KubeObject, spec: any, c: ContainerState): string[] {
    const saved = { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata, spec: pod.spec }
    const args = [
      'run', '-d',
      '--network', 'none',
      '--name', c.dockerName,
      '--hostname', pod.metadata.name,
      '--restart', 'no',
      '--label', `${LABEL_CLUSTER}=${this.opts.clusterName}`,
      '--label', `${LABEL_NODE}=${pod.spec.nodeName}`,
      '--label', `${LABEL_MASTER}=${this.masterId}`,
      '--label', `io.kubernetes.pod.name=${pod.metadata.name}`,
      '--label', `io.kubernetes.pod.namespace=${pod.metadata.namespace}`,
      '--label', `${LABEL_POD_UID}=${pod.metadata.uid}`,
      '--label', `${LABEL_CONTAINER}=${c.name}`,
      '--label', `${LABEL_POD_IP}=${w.podIP ?? ''}`,
      '--label', `${LABEL_POD}=${JSON.stringify(saved)}`,
    ]
    if (spec.stdin) args.push('-i')
    if (spec.tty) args.push('-t')
    if (spec.workingDir) args.push('--workdir', spec.workingDir)
    for (const e of spec.env ?? []) if (typeof e.value === 'string') args.push('-e', `${e.name}=${e.value}`)
    const command: string[] = spec.command ?? []
    const cmdArgs: string[] = spec.args ?? []
    if (command.length) args.push('--entrypoint', command[0]!)
    args.push(c.image, ...command.slice(1), ...cmdArgs)
    return args
  }

  /**
   * Restart policy with the kubelet's back-off: the first restart is immediate,
   * then 10s, 20s, ... up to 5 minutes (reset after 10 minutes of running).
   */
  private async restartIfDue(pod: KubeObject, c: ContainerState, ins: ContainerInspect): Promise<void> {
    if (ins.State.Running || ins.State.Status === 'created') return
    const exitCode = ins.State.ExitCode
    const policy = pod.spec.restartPolicy
    if (policy === 'Never' || (policy === 'OnFailure' && exitCode === 0)) return
    const field = `spec.containers{${c.name}}`
    if (c.restartAt === undefined) {
      const ranMs = Date.parse(ins.State.FinishedAt) - Date.parse(ins.State.StartedAt)
      if (ranMs > 600_000) c.crashBackoffMs = 0
      c.restartAt = Date.now() + c.crashBackoffMs
      if (c.crashBackoffMs > 0) {
        this.events.record(pod, 'Warning', 'BackOff', 'Back-off restarting failed container', this.source(pod), field)
      }
      c.crashBackoffMs = c.crashBackoffMs === 0 ? BACKOFF_START_MS : Math.min(c.crashBackoffMs * 2, BACKOFF_MAX_MS)
    }
    if (Date.now() < c.restartAt) return
    c.lastTerminated = terminatedState(ins)
    c.restartAt = undefined
    try {
      await docker(['start', ins.Id])
      c.restarts++
      c.inspect = (await inspectContainers([ins.Id]))[0] ?? ins
      this.events.record(pod, 'Normal', 'Started', `Started container ${c.name}`, this.source(pod), field)
    } catch (err) {
      this.opts.log(`restart ${c.dockerName}: ${(err as Error).message}`)
    }
  }

  private writeStatus(w: Worker): void {
    this.store.mutate('pods', w.namespace, w.name, (pod) => {
      pod.status = podStatus(pod, w.containers.map((c) => containerStatus(pod, c)), w.podIP)
    })
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
