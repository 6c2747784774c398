import { badRequest } from './errors.ts'

// Server-side field validation of created pods (kubectl sends
// ?fieldValidation=Strict once the OpenAPI document says it is supported):
// unknown fields are an error under Strict and a warning otherwise.

const TOP = ['apiVersion', 'kind', 'metadata', 'spec', 'status']
const METADATA = [
  'annotations', 'creationTimestamp', 'deletionGracePeriodSeconds', 'deletionTimestamp', 'finalizers', 'generateName',
  'generation', 'labels', 'managedFields', 'name', 'namespace', 'ownerReferences', 'resourceVersion', 'selfLink', 'uid',
]
const POD_SPEC = [
  'activeDeadlineSeconds', 'affinity', 'automountServiceAccountToken', 'containers', 'dnsConfig', 'dnsPolicy',
  'enableServiceLinks', 'ephemeralContainers', 'hostAliases', 'hostIPC', 'hostNetwork', 'hostPID', 'hostUsers', 'hostname',
  'imagePullSecrets', 'initContainers', 'nodeName', 'nodeSelector', 'os', 'overhead', 'preemptionPolicy', 'priority',
  'priorityClassName', 'readinessGates', 'resourceClaims', 'resources', 'restartPolicy', 'runtimeClassName', 'schedulerName',
  'schedulingGates', 'securityContext', 'serviceAccount', 'serviceAccountName', 'setHostnameAsFQDN', 'shareProcessNamespace',
  'subdomain', 'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints', 'volumes',
]
const CONTAINER = [
  'args', 'command', 'env', 'envFrom', 'image', 'imagePullPolicy', 'lifecycle', 'livenessProbe', 'name', 'ports',
  'readinessProbe', 'resizePolicy', 'resources', 'restartPolicy', 'securityContext', 'startupProbe', 'stdin', 'stdinOnce',
  'terminationMessagePath', 'terminationMessagePolicy', 'tty', 'volumeDevices', 'volumeMounts', 'workingDir',
]

export function unknownPodFields(body: any): string[] {
  const found: string[] = []
  const check = (obj: unknown, known: string[], prefix: string) => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return
    for (const k of Object.keys(obj)) if (!known.includes(k)) found.push(`${prefix}${k}`)
  }
  check(body, TOP, '')
  check(body?.metadata, METADATA, 'metadata.')
  check(body?.spec, POD_SPEC, 'spec.')
  ;(Array.isArray(body?.spec?.containers) ? body.spec.containers : []).forEach((c: unknown, i: number) =>
    check(c, CONTAINER, `spec.containers[${i}].`),
  )
  return found
}

/** Throws under Strict; otherwise returns the Warning header values to send. */
export function fieldValidation(body: any, directive: string | null): string[] {
  const unknown = unknownPodFields(body)
  if (unknown.length === 0 || directive === 'Ignore') return []
  if (directive === 'Strict') {
    throw badRequest(`Pod in version "v1" cannot be handled as a Pod: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`)
  }
  return unknown.map((f) => `299 - "unknown field \\"${f}\\""`)
}
