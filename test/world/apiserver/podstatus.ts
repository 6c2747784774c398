import type { ContainerInspect } from './docker.ts'
import { fullReference } from './images.ts'
import { nowSeconds } from './store.ts'
import type { KubeObject } from './types.ts'

// What the kubelet reports about a pod: container statuses from the runtime's
// view of each container, and the pod's phase and conditions derived from them.

export const BACKOFF_START_MS = 10_000
export const BACKOFF_MAX_MS = 300_000

export interface Terminated {
  exitCode: number
  reason: string
  startedAt: string
  finishedAt: string
  containerID: string
}

export interface ContainerState {
  name: string
  image: string
  dockerName: string
  id?: string
  imageID?: string
  waiting?: { reason: string; message?: string }
  inspect?: ContainerInspect
  /** The kubelet restarts containers itself (docker's --restart is off) to back off like Kubernetes. */
  restarts: number
  lastTerminated?: Terminated
  /** When an exited container is due to be started again (CrashLoopBackOff until then). */
  restartAt?: number
  crashBackoffMs: number
  backoffMs: number
  nextAttemptAt: number
  pullFailedAt?: number
}

export function containerStatus(pod: KubeObject, c: ContainerState) {
  const ins = c.inspect
  const base = {
    name: c.name,
    image: c.image,
    imageID: c.imageID ? `docker-pullable://${fullReference(c.image).replace(/:[^:/]+$/, '')}@${c.imageID}` : '',
    ...(c.id ? { containerID: `docker://${c.id}` } : {}),
    restartCount: c.restarts,
    lastState: c.lastTerminated ? { terminated: c.lastTerminated } : {},
  }
  if (!ins) return { ...base, state: { waiting: c.waiting ?? { reason: 'ContainerCreating' } }, ready: false, started: false }
  if (ins.State.Running) return { ...base, state: { running: { startedAt: seconds(ins.State.StartedAt) } }, ready: true, started: true }
  if (c.restartAt !== undefined && c.restartAt > Date.now()) {
    const backoff = Math.max(BACKOFF_START_MS, c.crashBackoffMs / 2) / 1000
    return {
      ...base,
      lastState: { terminated: terminatedState(ins) },
      state: {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${formatBackoff(backoff)} restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
        },
      },
      ready: false,
      started: false,
    }
  }
  if (ins.State.Status === 'created') {
    return { ...base, state: { waiting: { reason: 'ContainerCreating' } }, ready: false, started: false }
  }
  return { ...base, state: { terminated: terminatedState(ins) }, ready: false, started: false }
}

/** The pod's status as the kubelet reports it, from its containers' statuses. */
export function podStatus(pod: KubeObject, statuses: ReturnType<typeof containerStatus>[], podIP: string | undefined): any {
  const allReady = statuses.every((s) => s.ready)
  const policy = pod.spec.restartPolicy
  const willRestart = (t?: Terminated) => !!t && (policy === 'Always' || (policy === 'OnFailure' && t.exitCode !== 0))
  const everStarted = statuses.some((s) => s.state.running || s.state.terminated || s.restartCount > 0 || s.state.waiting?.reason === 'CrashLoopBackOff')
  let phase = 'Pending'
  if (statuses.some((s) => s.state.running)) phase = 'Running'
  else if (statuses.every((s) => s.state.terminated && !willRestart(s.state.terminated))) {
    phase = statuses.every((s) => s.state.terminated?.exitCode === 0) ? 'Succeeded' : 'Failed'
  } else if (everStarted) phase = 'Running'
  const old: any[] = pod.status.conditions ?? []
  const cond = (type: string, ok: boolean, reason?: string, message?: string) => {
    const prev = old.find((c) => c.type === type)
    const status = ok ? 'True' : 'False'
    return {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : nowSeconds(),
      ...(ok ? {} : { reason, message }),
    }
  }
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name)
  const notReadyMsg = `containers with unready status: [${unready.join(' ')}]`
  const done = phase === 'Succeeded' || phase === 'Failed'
  const status: Record<string, unknown> = {
    phase,
    conditions: [
      cond('PodReadyToStartContainers', !done),
      cond('Initialized', true),
      cond('Ready', allReady, done ? 'PodCompleted' : 'ContainersNotReady', done ? undefined : notReadyMsg),
      cond('ContainersReady', allReady, done ? 'PodCompleted' : 'ContainersNotReady', done ? undefined : notReadyMsg),
      cond('PodScheduled', true),
    ],
    hostIP: pod.status.hostIP,
    hostIPs: pod.status.hostIPs,
    podIP,
    podIPs: podIP ? [{ ip: podIP }] : undefined,
    startTime: pod.status.startTime,
    containerStatuses: statuses,
    qosClass: pod.status.qosClass ?? 'BestEffort',
  }
  // JSON has no undefined: drop such keys so the change check stays exact.
  for (const k of Object.keys(status)) if (status[k] === undefined) delete status[k]
  return status
}

export function seconds(ts: string): string {
  return ts.replace(/\.\d+Z$/, 'Z')
}

export function terminatedState(ins: ContainerInspect): Terminated {
  return {
    exitCode: ins.State.ExitCode,
    reason: ins.State.OOMKilled ? 'OOMKilled' : ins.State.ExitCode === 0 ? 'Completed' : 'Error',
    startedAt: seconds(ins.State.StartedAt),
    finishedAt: seconds(ins.State.FinishedAt),
    containerID: `docker://${ins.Id}`,
  }
}

function formatBackoff(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : '0s'}` : `${s}s`
}

