// Minimal shapes of the Kubernetes objects the emulator serves. Spec and status
// stay loosely typed: they are JSON that kubectl reads, not a full API model.

export interface ObjectMeta {
  name: string
  namespace?: string
  generateName?: string
  uid: string
  resourceVersion: string
  creationTimestamp: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  [key: string]: unknown
}

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  spec?: any
  status?: any
  [key: string]: unknown
}

/** A compiled-in admission plugin as the hyperkube build reports it. */
export interface AdmissionPlugin {
  name: string
  /** Resource/subresource pairs it rejects unconditionally, e.g. "pods/attach". */
  denies: string[]
  message: string
}

/** `hyperkube --build-info` / `kube-apiserver --build-info` / `kubelet --build-info` output (one JSON line). */
export interface BuildInfo {
  component?: string
  gitVersion: string
  gitCommit: string
  gitTreeState: string
  major: string
  minor: string
  buildDate: string
  goVersion?: string
  /** The denying plugins the API server enables by default, in chain order. */
  admissionPlugins?: AdmissionPlugin[]
  /** Every plugin name the API server registers, in chain order (builds of 1.36 on; 1.8's do not say). */
  registeredAdmissionPlugins?: string[]
  /** Every registered plugin that denies a connect request, enabled by default or not. */
  denyingAdmissionPlugins?: AdmissionPlugin[]
  [key: string]: unknown
}
