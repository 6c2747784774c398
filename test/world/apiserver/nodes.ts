import { YAML } from 'zx'
import { readKubeletBuildInfo } from './buildinfo.ts'
import { docker, inspectContainers, type ContainerInspect } from './docker.ts'
import type { EventRecorder } from './events.ts'
import type { MachineSpec } from './spec.ts'
import { nowSeconds, type Store } from './store.ts'
import type { KubeObject } from './types.ts'

// The kubelets' side of nodes. A machine's kubelet registers its Node once it
// has a kubeconfig, which kubeadm writes: /etc/kubernetes/kubelet.conf (kubeadm
// init, for the identity system:node:<the name kubeadm chose>) or
// /etc/kubernetes/bootstrap-kubelet.conf (kubeadm join; the TLS bootstrap then
// gives it system:node:<its own name>). It registers under its own name: its
// --hostname-override, else the hostname, lower-cased. NodeRestriction, which
// kubeadm 1.8 enables, lets system:node:X register only node X: a kubelet
// whose kubeconfig names another node never registers. A node registers
// NotReady and turns Ready nodeReadySeconds later (the kubelet's network
// coming up), if its machine still runs; watchers see each change as
// MODIFIED. Roles are not the kubelet's: kubeadm init labels and taints the
// master through the API.

const POLL_MS = 1000

const KUBELET_CONF = '/etc/kubernetes/kubelet.conf'
const BOOTSTRAP_KUBELET_CONF = '/etc/kubernetes/bootstrap-kubelet.conf'

interface MachineState {
  running: boolean
  kubeletVersion?: string
  osImage?: string
  /** The name its kubelet registers, once known. */
  nodeName?: string
  registered: boolean
  /** When it registered (ms since the epoch). */
  registeredAt?: number
  /** What keeps its kubelet from registering, as the kubelet logs it; logged when it changes. */
  blocked?: string
}

/** The node name a kubelet registers: nodeutil.GetHostname(--hostname-override), lower-cased and trimmed. */
function kubeletNodeName(container: Pick<ContainerInspect, 'Args' | 'Config'>): string {
  const override = (container.Args ?? []).find((a) => a.startsWith('--hostname-override='))?.slice('--hostname-override='.length)
  return (override || container.Config.Hostname).trim().toLowerCase()
}

/** The user of a kubeconfig's current context. */
function kubeconfigUser(text: string): string | undefined {
  const config = YAML.parse(text) as { 'current-context'?: string; contexts?: { name?: string; context?: { user?: string } }[] } | null
  const current = config?.['current-context']
  return config?.contexts?.find((c) => c.name === current)?.context?.user
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
    private readonly readyAfterMs: number,
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
    await this.poll()
    this.timers.push(setInterval(() => void this.poll(), POLL_MS))
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

  /** The name of the node the machine's kubelet registered, once it has. */
  registeredNode(machine: string): string | undefined {
    const st = this.state.get(machine)
    return st?.registered ? st.nodeName : undefined
  }

  /** The index of the machine whose kubelet registered the node, -1 if none did. */
  machineIndex(node: string): number {
    return this.machines.findIndex((m) => this.state.get(m.name)?.nodeName === node)
  }

  async poll(): Promise<void> {
    if (this.polling) return
    this.polling = true
    try {
      const found = await inspectContainers(this.machines.map((m) => m.name))
      // Machines side by side: each may wait on a docker exec.
      await Promise.all(
        this.machines.map(async (m, index) => {
          const c = found.find((x) => x.Name === `/${m.name}`)
          const st = this.state.get(m.name) ?? { running: false, registered: false }
          this.state.set(m.name, st)
          st.running = Boolean(c?.State.Running)
          if (c) st.nodeName ??= kubeletNodeName(c)
          if (st.running && !st.kubeletVersion) await this.readMachine(m.name, st)
          if (st.running && !st.registered) await this.register(m, index, st)
          if (st.registered) this.update(m, st)
        }),
      )
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

  /** The kubelet's registration: with a kubeconfig, and as the node its identity may modify. */
  private async register(m: MachineSpec, index: number, st: MachineState): Promise<void> {
    const name = st.nodeName!
    let identity: string | undefined
    const { kubelet, bootstrap } = await this.readKubeconfigs(m.name)
    if (kubelet !== undefined) {
      identity = kubeconfigUser(kubelet)
      if (!identity) return this.block(m, st, `failed to run Kubelet: invalid kubeconfig: ${KUBELET_CONF} has no user for its current context`)
    } else if (bootstrap !== undefined) {
      identity = `system:node:${name}`
    } else {
      return this.block(m, st, `failed to run Kubelet: unable to load bootstrap kubeconfig: stat ${BOOTSTRAP_KUBELET_CONF}: no such file or directory`)
    }
    const asNode = /^system:node:(.*)$/.exec(identity)?.[1]
    if (asNode !== undefined && asNode !== name) {
      return this.block(
        m,
        st,
        `Unable to register node "${name}" with API server: nodes "${name}" is forbidden: node "${asNode}" cannot modify node "${name}"`,
      )
    }
    this.store.create('nodes', this.nodeObject(m, index, name))
    st.registered = true
    st.registeredAt = Date.now()
    st.blocked = undefined
    // Turn Ready on time rather than up to a poll period late.
    if (this.readyAfterMs > 0) this.timers.push(setTimeout(() => void this.poll(), this.readyAfterMs + 20))
    this.log(`kubelet of ${m.name}: registered node ${name} (as ${identity})`)
  }

  private block(m: MachineSpec, st: MachineState, why: string): void {
    if (st.blocked !== why) this.log(`kubelet of ${m.name}: ${why}`)
    st.blocked = why
  }

  /** The kubelet's kubeconfigs as the machine has them, in one docker exec (each costs a process in the machine). */
  private async readKubeconfigs(machine: string): Promise<{ kubelet?: string; bootstrap?: string }> {
    const script = `for f in ${KUBELET_CONF} ${BOOTSTRAP_KUBELET_CONF}; do if [ -f "$f" ]; then echo "==> $f"; cat "$f"; fi; done`
    let stdout = ''
    try {
      stdout = (await docker(['exec', machine, 'sh', '-c', script], { timeoutMs: 10_000 })).stdout
    } catch {
      return {}
    }
    const files: Record<string, string> = {}
    for (const part of stdout.split(/^==> /m).slice(1)) {
      const newline = part.indexOf('\n')
      files[part.slice(0, newline)] = part.slice(newline + 1)
    }
    return { kubelet: files[KUBELET_CONF], bootstrap: files[BOOTSTRAP_KUBELET_CONF] }
  }

  private update(m: MachineSpec, st: MachineState): void {
    const name = st.nodeName!
    const ready = st.running && Boolean(st.kubeletVersion) && Date.now() >= st.registeredAt! + this.readyAfterMs
    const before = this.store.get('nodes', undefined, name)
    const updated = this.store.mutate('nodes', undefined, name, (n) => {
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
      this.log(`node ${name}: ${isReady ? 'Ready' : 'NotReady'}`)
      this.events.record(
        updated,
        'Normal',
        isReady ? 'NodeReady' : 'NodeNotReady',
        `Node ${name} status is now: ${isReady ? 'NodeReady' : 'NodeNotReady'}`,
        { component: 'kubelet', host: name },
      )
    }
  }

  private nodeObject(m: MachineSpec, index: number, name: string): KubeObject {
    const labels: Record<string, string> = {
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': name,
      'kubernetes.io/os': 'linux',
    }
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        uid: '',
        resourceVersion: '',
        creationTimestamp: nowSeconds(),
        labels,
        annotations: {
          'node.alpha.kubernetes.io/ttl': '0',
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
        },
      },
      spec: {
        podCIDR: `10.244.${index}.0/24`,
        podCIDRs: [`10.244.${index}.0/24`],
      },
      status: {
        capacity: { cpu: '2', memory: '2048000Ki', pods: '110' },
        allocatable: { cpu: '2', memory: '1945600Ki', pods: '110' },
        conditions: conditions([], false, false),
        addresses: [
          { type: 'InternalIP', address: m.address },
          { type: 'Hostname', address: name },
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
