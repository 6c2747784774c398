import { createHash } from 'node:crypto'
import { inspectContainers } from './docker.ts'
import type { NodeMonitor } from './nodes.ts'
import type { ApiServerPodSpec, MachineSpec } from './spec.ts'
import { nowSeconds, type Store } from './store.ts'
import type { KubeObject } from './types.ts'

// The static pod kubeadm writes for the API server and the master's kubelet
// mirrors into the API: kube-system/kube-apiserver-<node>, labelled
// component=kube-apiserver and tier=control-plane, owned by the node, with
// kubeadm's container (image, command) and the kubelet's annotations
// (kubernetes.io/config.mirror ...). It is created once the master's node
// has registered (the kubelet needs its node for the owner reference) and
// again after a delete, as the kubelet does for a static pod that still
// runs. Its container is the master machine itself, where the emulator
// stands in for the API server: an exec runs there (with the cluster's
// kube-apiserver as `kube-apiserver`), an attach gets no output.

const NAMESPACE = 'kube-system'
const CONTAINER = 'kube-apiserver'
const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'
const POLL_MS = 1000
/** The priority of the system-node-critical class kubeadm puts control-plane pods in. */
const SYSTEM_NODE_CRITICAL = 2000001000

/** kubeadm's host path volumes of the API server on a Debian node, by name (VolumeMapToSlice sorts them). */
const VOLUMES: [name: string, path: string][] = [
  ['ca-certs', '/etc/ssl/certs'],
  ['etc-ca-certificates', '/etc/ca-certificates'],
  ['k8s-certs', '/etc/kubernetes/pki'],
  ['usr-local-share-ca-certificates', '/usr/local/share/ca-certificates'],
  ['usr-share-ca-certificates', '/usr/share/ca-certificates'],
]

export class MirrorPods {
  private timer?: NodeJS.Timeout
  private syncing = false

  constructor(
    private readonly store: Store,
    private readonly nodes: NodeMonitor,
    private readonly master: MachineSpec,
    private readonly spec: ApiServerPodSpec | undefined,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    if (!this.spec) return
    void this.sync()
    this.timer = setInterval(() => void this.sync(), POLL_MS)
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** Whether the pod is the API server's mirror pod (not one of the emulator's pod containers). */
  isMirror(pod: KubeObject): boolean {
    return (
      this.spec !== undefined &&
      pod.metadata.namespace === NAMESPACE &&
      pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined &&
      pod.metadata.name === this.podName()
    )
  }

  /** The docker argv of an exec of command in the mirror pod's container: in the master machine, after the spec's prefix. */
  execArgs(command: string[], stdin: boolean): string[] {
    return ['exec', ...(stdin ? ['-i'] : []), this.master.name, ...(this.spec?.execPrefix ?? []), ...command]
  }

  private podName(): string | undefined {
    const node = this.nodes.registeredNode(this.master.name)
    return node === undefined ? undefined : `kube-apiserver-${node}`
  }

  /** Creates the mirror pod when the master's node is there and the pod is not (yet, or any more). */
  async sync(): Promise<void> {
    if (!this.spec || this.syncing) return
    this.syncing = true
    try {
      const nodeName = this.nodes.registeredNode(this.master.name)
      if (nodeName === undefined) return
      const name = `kube-apiserver-${nodeName}`
      if (this.store.get('pods', NAMESPACE, name)) return
      const node = this.store.get('nodes', undefined, nodeName)
      if (!node) return
      const [machine] = await inspectContainers([this.master.name])
      if (!machine?.State.Running) return
      // Checked again: a delete or another sync may have happened meanwhile.
      if (this.store.get('pods', NAMESPACE, name)) return
      this.store.create('pods', this.pod(this.spec, name, node, machine.Id, machine.Image, machine.State.StartedAt))
      this.log(`kubelet of ${this.master.name}: created mirror pod ${NAMESPACE}/${name}`)
    } catch (err) {
      this.log(`mirror pod: ${(err as Error).message}`)
    } finally {
      this.syncing = false
    }
  }

  private pod(spec: ApiServerPodSpec, name: string, node: KubeObject, machineId: string, machineImage: string, machineStarted: string): KubeObject {
    const nodeName = node.metadata.name
    const started = nowSeconds(new Date(machineStarted))
    const hostIP = (node.status?.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address as string | undefined
    // The kubelet's config hash (md5 of the static pod), also the mirror annotation's value.
    const hash = createHash('md5').update(JSON.stringify([spec.image, spec.command, spec.advertiseAddressEndpoint])).digest('hex')
    const condition = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: started })
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: NAMESPACE,
        uid: '',
        resourceVersion: '',
        creationTimestamp: '',
        labels: { component: CONTAINER, tier: 'control-plane' },
        annotations: {
          'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': spec.advertiseAddressEndpoint,
          'kubernetes.io/config.hash': hash,
          [MIRROR_ANNOTATION]: hash,
          'kubernetes.io/config.seen': machineStarted,
          'kubernetes.io/config.source': 'file',
        },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid, controller: true }],
      },
      spec: {
        containers: [
          {
            name: CONTAINER,
            image: spec.image,
            imagePullPolicy: 'IfNotPresent',
            command: spec.command,
            resources: { requests: { cpu: '250m' } },
            volumeMounts: VOLUMES.map(([volume, path]) => ({ name: volume, mountPath: path, readOnly: true })),
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
          },
        ],
        dnsPolicy: 'ClusterFirst',
        enableServiceLinks: true,
        hostNetwork: true,
        nodeName,
        preemptionPolicy: 'PreemptLowerPriority',
        priority: SYSTEM_NODE_CRITICAL,
        priorityClassName: 'system-node-critical',
        restartPolicy: 'Always',
        schedulerName: 'default-scheduler',
        securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
        terminationGracePeriodSeconds: 30,
        tolerations: [{ effect: 'NoExecute', operator: 'Exists' }],
        volumes: VOLUMES.map(([volume, path]) => ({ name: volume, hostPath: { path, type: 'DirectoryOrCreate' } })),
      },
      status: {
        phase: 'Running',
        conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(condition),
        ...(hostIP ? { hostIP, hostIPs: [{ ip: hostIP }], podIP: hostIP, podIPs: [{ ip: hostIP }] } : {}),
        startTime: started,
        containerStatuses: [
          {
            name: CONTAINER,
            image: spec.image,
            imageID: machineImage,
            containerID: `docker://${machineId}`,
            ready: true,
            started: true,
            restartCount: 0,
            lastState: {},
            state: { running: { startedAt: started } },
          },
        ],
        qosClass: 'Burstable',
      },
    }
  }
}
