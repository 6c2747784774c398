import { randomBytes } from 'node:crypto'
import { ApiError, alreadyExists, badRequest, invalid, notFound } from './errors.ts'
import { defaultPullPolicy } from './images.ts'
import type { Kubelet } from './kubelet.ts'
import { NAMESPACES } from './namespaces.ts'
import type { Store } from './store.ts'
import type { KubeObject } from './types.ts'

// Pod writes: create with the API server's defaulting and validation, graceful
// delete, and metadata-only patches.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

export function createPod(store: Store, kubelet: Kubelet, namespace: string, body: any, dryRun: boolean): KubeObject {
  if (!body || typeof body !== 'object' || body.kind !== 'Pod') {
    throw badRequest(`the object provided is unrecognized (must be of type Pod): kind "${body?.kind ?? ''}"`)
  }
  if (!NAMESPACES.includes(namespace)) throw notFound('namespaces', namespace)
  const meta = body.metadata ?? {}
  if (meta.namespace && meta.namespace !== namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
  }
  let name: string = meta.name ?? ''
  if (!name && meta.generateName) name = meta.generateName + suffix()
  validate(name, body.spec)
  if (store.get('pods', namespace, name)) throw alreadyExists('pods', name)
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...pick(meta, ['labels', 'annotations', 'generateName', 'ownerReferences', 'finalizers']),
      name,
      namespace,
      uid: '',
      resourceVersion: '',
      creationTimestamp: '',
    },
    spec: defaults(body.spec),
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  }
  if (dryRun) return { ...pod, metadata: { ...pod.metadata, uid: 'dry-run', creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } }
  const created = store.create('pods', pod)
  kubelet.admit(created)
  return created
}

function suffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789'
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('')
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))
}

function validate(name: string, spec: any): void {
  const causes: { field: string; message: string }[] = []
  if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' })
  else if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
    causes.push({
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    })
  }
  const containers: any[] = spec?.containers ?? []
  if (containers.length === 0) causes.push({ field: 'spec.containers', message: 'Required value' })
  const seen = new Set<string>()
  containers.forEach((c, i) => {
    if (!c.name) causes.push({ field: `spec.containers[${i}].name`, message: 'Required value' })
    else if (!DNS1123_LABEL.test(c.name) || c.name.length > 63) {
      causes.push({ field: `spec.containers[${i}].name`, message: `Invalid value: "${c.name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')` })
    } else if (seen.has(c.name)) causes.push({ field: `spec.containers[${i}].name`, message: `Duplicate value: "${c.name}"` })
    seen.add(c.name)
    if (!c.image) causes.push({ field: `spec.containers[${i}].image`, message: 'Required value' })
  })
  if (spec?.restartPolicy && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy)) {
    causes.push({ field: 'spec.restartPolicy', message: `Unsupported value: "${spec.restartPolicy}": supported values: "Always", "OnFailure", "Never"` })
  }
  if (causes.length) throw invalid('pods', name, causes)
}

function defaults(spec: any): any {
  return {
    ...spec,
    containers: (spec.containers as any[]).map((c) => ({
      ...c,
      resources: c.resources ?? {},
      terminationMessagePath: c.terminationMessagePath ?? '/dev/termination-log',
      terminationMessagePolicy: c.terminationMessagePolicy ?? 'File',
      imagePullPolicy: c.imagePullPolicy ?? defaultPullPolicy(c.image),
    })),
    restartPolicy: spec.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? 30,
    dnsPolicy: spec.dnsPolicy ?? 'ClusterFirst',
    serviceAccountName: spec.serviceAccountName ?? 'default',
    serviceAccount: spec.serviceAccountName ?? 'default',
    securityContext: spec.securityContext ?? {},
    schedulerName: spec.schedulerName ?? 'default-scheduler',
    tolerations: spec.tolerations ?? [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    priority: spec.priority ?? 0,
    enableServiceLinks: spec.enableServiceLinks ?? true,
    preemptionPolicy: spec.preemptionPolicy ?? 'PreemptLowerPriority',
  }
}

/** DELETE: graceful unless the grace period is 0 or the pod never reached a node. */
export function deletePod(store: Store, kubelet: Kubelet, namespace: string, name: string, options: any, queryGrace: string | null): KubeObject {
  const pod = store.get('pods', namespace, name)
  if (!pod) throw notFound('pods', name)
  const uid = options?.preconditions?.uid
  if (uid && uid !== pod.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on pods "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${pod.metadata.uid}`, { name, kind: 'pods' })
  }
  const requested = queryGrace !== null ? Number(queryGrace) : options?.gracePeriodSeconds
  const grace = typeof requested === 'number' && !Number.isNaN(requested) ? requested : pod.spec.terminationGracePeriodSeconds ?? 30
  if (!pod.spec.nodeName || grace === 0) {
    kubelet.terminate(pod, 0)
    return pod
  }
  if (pod.metadata.deletionTimestamp) return pod
  const marked = store.mutate('pods', namespace, name, (p) => {
    p.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
    p.metadata.deletionGracePeriodSeconds = grace
  })!
  kubelet.terminate(marked, grace)
  return marked
}

/** Only labels and annotations of a pod may change (the rest of a real pod is mostly immutable too). */
export function checkPodUpdate(before: KubeObject, after: KubeObject): void {
  const strip = (o: KubeObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, labels: undefined, annotations: undefined, resourceVersion: undefined, managedFields: undefined } })
  if (strip(before) !== strip(after)) {
    throw invalid('pods', before.metadata.name, [
      { field: 'spec', message: 'Forbidden: pod updates may not change fields other than metadata.labels and metadata.annotations on this server' },
    ])
  }
}
