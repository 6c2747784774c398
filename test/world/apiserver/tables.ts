import type { KubeObject } from './types.ts'

// Server-side printing (meta.k8s.io/v1 Table), column for column like the real
// server's printers, so `kubectl get` output looks like a real cluster's.

export interface Column {
  name: string
  type: string
  format: string
  description: string
  priority: number
}

export interface Table {
  kind: 'Table'
  apiVersion: 'meta.k8s.io/v1'
  metadata: { resourceVersion?: string }
  columnDefinitions: Column[] | null
  rows: { cells: unknown[]; object?: unknown }[]
}

const col = (name: string, description: string, priority = 0, format = '', type = 'string'): Column => ({
  name,
  type,
  format,
  description,
  priority,
})

const NAME = col('Name', 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.', 0, 'name')
const AGE = col('Age', 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.')

const printers: Record<string, { columns: Column[]; cells: (o: KubeObject) => unknown[] }> = {
  pods: {
    columns: [
      NAME,
      col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      AGE,
      col('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
      col('Node', 'NodeName is a request to schedule this pod onto a specific node.', 1),
      col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
      col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
    ],
    cells: podCells,
  },
  nodes: {
    columns: [
      NAME,
      col('Status', 'The status of the node'),
      col('Roles', 'The roles of the node'),
      AGE,
      col('Version', 'Kubelet Version reported by the node.'),
      col('Internal-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
      col('External-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
      col('OS-Image', "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1),
      col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
      col('Container-Runtime', 'Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
    ],
    cells: nodeCells,
  },
  namespaces: {
    columns: [NAME, col('Status', 'The status of the namespace'), AGE],
    cells: (o) => [o.metadata.name, o.status?.phase ?? '', age(o.metadata.creationTimestamp)],
  },
  events: {
    columns: [
      col('Last Seen', 'Time when this Event was last observed.'),
      col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
      col('Reason', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
      col('Object', 'The object that this event is about.'),
      col('Subobject', 'The subobject that this event is about.', 1),
      col('Source', 'The component reporting this event.', 1),
      col('Message', 'A human-readable description of the status of this operation.'),
      col('First Seen', 'The time at which the event was first recorded.', 1),
      col('Count', 'The number of times this event has occurred.', 1),
      col('Name', 'The name of the event.', 1, 'name'),
    ],
    cells: (e) => [
      age(e.lastTimestamp as string),
      e.type,
      e.reason,
      `${String((e.involvedObject as { kind: string }).kind).toLowerCase()}/${(e.involvedObject as { name: string }).name}`,
      (e.involvedObject as { fieldPath?: string }).fieldPath ?? '',
      [(e.source as { component?: string })?.component, (e.source as { host?: string })?.host].filter(Boolean).join(', '),
      e.message,
      age(e.firstTimestamp as string),
      e.count,
      e.metadata.name,
    ],
  },
}

const defaultPrinter = { columns: [NAME, col('Created At', AGE.description, 0, 'date-time')], cells: (o: KubeObject) => [o.metadata.name, o.metadata.creationTimestamp] }

/** includeObject: None | Metadata (kubectl's default) | Object, from the Accept/query options. */
export function toTable(resource: string, objects: KubeObject[], resourceVersion: string, includeObject = 'Metadata', headers = true): Table {
  const p = printers[resource] ?? defaultPrinter
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: headers ? p.columns : null,
    rows: objects.map((o) => ({ cells: p.cells(o), object: rowObject(o, includeObject) })),
  }
}

function rowObject(o: KubeObject, includeObject: string): unknown {
  if (includeObject === 'None') return undefined
  if (includeObject === 'Object') return o
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
}

function podCells(pod: KubeObject): unknown[] {
  const spec = pod.spec ?? {}
  const status = pod.status ?? {}
  let reason: string = status.reason || status.phase || ''
  let restarts = 0
  let ready = 0
  let lastRestart = 0
  let hasRunning = false
  const statuses: any[] = status.containerStatuses ?? []
  for (let i = statuses.length - 1; i >= 0; i--) {
    const c = statuses[i]
    restarts += c.restartCount ?? 0
    const finished = c.lastState?.terminated?.finishedAt
    if (finished) lastRestart = Math.max(lastRestart, Date.parse(finished))
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason
    else if (c.state?.terminated?.reason) reason = c.state.terminated.reason
    else if (c.state?.terminated) {
      const t = c.state.terminated
      reason = t.signal ? `Signal:${t.signal}` : `ExitCode:${t.exitCode}`
    } else if (c.ready && c.state?.running) {
      hasRunning = true
      ready++
    }
  }
  if (reason === 'Completed' && hasRunning) {
    const readyCond = (status.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')
    reason = readyCond ? 'Running' : 'NotReady'
  }
  if (pod.metadata.deletionTimestamp && status.phase !== 'Succeeded' && status.phase !== 'Failed') reason = 'Terminating'
  const restartText = restarts !== 0 && lastRestart ? `${restarts} (${humanDuration(Date.now() - lastRestart)} ago)` : String(restarts)
  return [
    pod.metadata.name,
    `${ready}/${(spec.containers ?? []).length}`,
    reason,
    restartText,
    age(pod.metadata.creationTimestamp),
    status.podIP || '<none>',
    spec.nodeName || '<none>',
    status.nominatedNodeName || '<none>',
    '<none>',
  ]
}

function nodeCells(node: KubeObject): unknown[] {
  const status = node.status ?? {}
  const readyCond = (status.conditions ?? []).find((c: any) => c.type === 'Ready')
  const states = readyCond ? [readyCond.status === 'True' ? 'Ready' : 'NotReady'] : ['Unknown']
  if (node.spec?.unschedulable) states.push('SchedulingDisabled')
  const roles = new Set<string>()
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length))
    else if (k === 'kubernetes.io/role' && v) roles.add(v)
  }
  const addr = (type: string) => (status.addresses ?? []).find((a: any) => a.type === type)?.address || '<none>'
  const info = status.nodeInfo ?? {}
  return [
    node.metadata.name,
    states.join(','),
    roles.size ? [...roles].sort().join(',') : '<none>',
    age(node.metadata.creationTimestamp),
    info.kubeletVersion ?? '',
    addr('InternalIP'),
    addr('ExternalIP'),
    info.osImage || '<unknown>',
    info.kernelVersion || '<unknown>',
    info.containerRuntimeVersion || '<unknown>',
  ]
}

export function age(timestamp: string | undefined): string {
  if (!timestamp) return '<unknown>'
  return humanDuration(Date.now() - Date.parse(timestamp))
}

/** apimachinery's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`
  const days = Math.floor(hours / 24)
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${days / 365}y` : `${Math.floor(days / 365)}y${days % 365}d`
  return `${Math.floor(days / 365)}y`
}
