import { readKubeletBuildInfo } from './buildinfo.ts'
import { docker, inspectContainers } from './docker.ts'
import type { EventRecorder } from './events.ts'
import type { MachineSpec } from './spec.ts'
import { nowSeconds, type Store } from './store.ts'
import type { KubeObject } from './types.ts'

// One Node per machine. A node is Ready once its machine (a docker container
// running the image's kubelet) is running and nodeReadySeconds have passed
// since the API server started; watchers see each transition as MODIFIED.

const POLL_MS = 1000

interface MachineState {
  running: boolean
  kubeletVersion?: string
  osImage?: string
}

export class NodeMonitor {
  private readonly state = new Map<string, MachineState>()
  private timers: NodeJS.Timeout[] = []
  private polling = false
  private engine = { kernelVersion: '', runtimeVersion: '' }

  constructor(
    private readonly store: Store,
    private readonly events: EventRecorder,
    private readonly machines: MachineSpec[],
    private readonly readyAt: number,
    private readonly log: (msg: string) => void,
  ) {}

  async start(): Promise<void> {
    try {
      const { stdout } = await docker(['info', '--format', '{{json .}}'])
      const info = JSON.parse(stdout) as { KernelVersion?: string; ServerVersion?: string }
      this.engine = { kernelVersion: info.KernelVersion ?? '', runtimeVersion: `docker://${info.ServerVersion ?? ''}` }
    } catch (err) {
      this.log(`docker info: ${(err as Error).message}`)
    }
    const found = await inspectContainers(this.machines.map((m) => m.name))
    this.machines.forEach((m, i) => {
      const c = found.find((x) => x.Name === `/${m.name}`)
      this.store.create('nodes', this.nodeObject(m, i, c ? new Date(c.Created) : new Date()))
    })
    await this.poll()
    this.timers.push(setInterval(() => void this.poll(), POLL_MS))
    // Turn Ready on time rather than up to a poll period late.
    const delay = this.readyAt - Date.now()
    if (delay > 0) this.timers.push(setTimeout(() => void this.poll(), delay + 20))
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers = []
  }

  /** Non-master nodes that are Ready, for the scheduler. */
  schedulable(): KubeObject[] {
    return this.store
      .list('nodes')
      .filter((n) => !(n.spec?.taints ?? []).some((t: { effect: string }) => t.effect === 'NoSchedule'))
      .filter((n) => n.status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'))
  }

  machineIndex(node: string): number {
    return this.machines.findIndex((m) => m.name === node)
  }

  async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const found = await inspectContainers(this.machines.map((m) => m.name))
      for (const m of this.machines) {
        const c = found.find((x) => x.Name === `/${m.name}`)
        const st = this.state.get(m.name) ?? { running: false }
        st.running = Boolean(c?.State.Running)
        if (st.running && !st.kubeletVersion) await this.readMachine(m.name, st)
        this.state.set(m.name, st)
        this.update(m, st)
      }
    } catch (err) {
      this.log(`node poll: ${(err as Error).message}`)
    } finally {
      this.polling = false
    }
  }

  private async readMachine(name: string, st: MachineState): Promise<void> {
    try {
      st.kubeletVersion = (await readKubeletBuildInfo(name)).gitVersion
    } catch (err) {
      this.log(`kubelet build info of ${name}: ${(err as Error).message}`)
    }
    try {
      const { stdout } = await docker(['exec', name, 'cat', '/etc/os-release'], { timeoutMs: 10_000 })
      st.osImage = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(stdout)?.[1]
    } catch {
      // No os-release in the machine: the printer shows <unknown>.
    }
  }

  private update(m: MachineSpec, st: MachineState): void {
    const ready = st.running && Boolean(st.kubeletVersion) && Date.now() >= this.readyAt
    const before = this.store.get('nodes', undefined, m.name)
    const updated = this.store.mutate('nodes', undefined, m.name, (n) => {
      if (st.kubeletVersion) {
        n.status.nodeInfo.kubeletVersion = st.kubeletVersion
        n.status.nodeInfo.kubeProxyVersion = st.kubeletVersion
      }
      if (st.osImage) n.status.nodeInfo.osImage = st.osImage
      n.status.conditions = conditions(n.status.conditions, st.running, ready)
    })
    const wasReady = readyOf(before)
    const isReady = readyOf(updated)
    if (updated && wasReady !== isReady) {
      this.log(`node ${m.name}: ${isReady ? 'Ready' : 'NotReady'}`)
      this.events.record(
        updated,
        'Normal',
        isReady ? 'NodeReady' : 'NodeNotReady',
        `Node ${m.name} status is now: ${isReady ? 'NodeReady' : 'NodeNotReady'}`,
        { component: 'kubelet', host: m.name },
      )
    }
  }

  private nodeObject(m: MachineSpec, index: number, created: Date): KubeObject {
    const labels: Record<string, string> = {
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': m.name,
      'kubernetes.io/os': 'linux',
    }
    if (m.role === 'master') labels['node-role.kubernetes.io/master'] = ''
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: m.name,
        uid: '',
        resourceVersion: '',
        creationTimestamp: nowSeconds(created),
        labels,
        annotations: {
          'node.alpha.kubernetes.io/ttl': '0',
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        },
      },
      spec: {
        podCIDR: `10.244.${index}.0/24`,
        podCIDRs: [`10.244.${index}.0/24`],
        ...(m.role === 'master' ? { taints: [{ key: 'node-role.kubernetes.io/master', effect: 'NoSchedule' }] } : {}),
      },
      status: {
        capacity: { cpu: '2', memory: '2048000Ki', pods: '110' },
        allocatable: { cpu: '2', memory: '1945600Ki', pods: '110' },
        conditions: conditions([], false, false),
        addresses: [
          { type: 'InternalIP', address: m.address },
          { type: 'Hostname', address: m.name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: '',
          systemUUID: '',
          bootID: '',
          kernelVersion: this.engine.kernelVersion,
          osImage: '',
          containerRuntimeVersion: this.engine.runtimeVersion,
          kubeletVersion: '',
          kubeProxyVersion: '',
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    }
  }
}

function readyOf(n: KubeObject | undefined): boolean {
  return Boolean(n?.status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True'))
}

interface Condition {
  type: string
  status: string
  lastHeartbeatTime: string
  lastTransitionTime: string
  reason: string
  message: string
}

// Keeps lastTransitionTime across polls so an unchanged node is not rewritten.
function conditions(previous: Condition[], running: boolean, ready: boolean): Condition[] {
  const now = nowSeconds()
  const want: [string, string, string, string][] = running
    ? [
        ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
        ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
        ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
        ready
          ? ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status']
          : [
              'Ready',
              'False',
              'KubeletNotReady',
              'runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:docker: network plugin is not ready: cni config uninitialized',
            ],
      ]
    : ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((t) => [
        t,
        'Unknown',
        'NodeStatusUnknown',
        'Kubelet stopped posting node status.',
      ])
  return want.map(([type, status, reason, message]) => {
    const old = previous.find((c) => c.type === type)
    const same = old && old.status === status && old.reason === reason
    return {
      type,
      status,
      lastHeartbeatTime: same ? old.lastHeartbeatTime : now,
      lastTransitionTime: same ? old.lastTransitionTime : now,
      reason,
      message,
    }
  })
}
