// The kubeadm config kind writes to each node's /kind/kubeadm.conf: its
// template for the node's Kubernetes version (kubeadm v1beta4 from 1.36.0,
// v1beta3 from 1.23, else v1beta2), the cluster's kubeadmConfigPatches then
// the node's (merge patches, with kind v0.32's custom merge of extraArgs,
// kubeletExtraArgs and certSANs) and JSON 6902 patches, encoded with sorted
// keys as sigs.k8s.io/yaml does. Also what kubeadm makes of it for the API
// server: its static pod (image, command) and the
// --enable/--disable-admission-plugins of that command.
import { YAML } from 'zx'
import type { ClusterConfig, NodeConfig, PatchJSON6902 } from './config.ts'
import { CONTROL_PLANE_ROLE } from './config.ts'
import { wrap } from './errors.ts'
import { sortedYaml } from './yaml.ts'

/** kind's well-known TLS bootstrap token (pkg/cluster/internal/kubeadm/const.go). */
export const TOKEN = 'abcdef.0123456789abcdef'
/** The API server's port inside a node. */
export const API_SERVER_PORT = 6443

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Doc = { [key: string]: Json }

export interface NodeData {
  clusterName: string
  /** The container name of the node. */
  nodeName: string
  nodeAddress: string
  /** /kind/version of the node. */
  kubernetesVersion: string
  controlPlaneEndpoint: string
}

interface Semver {
  major: number
  minor: number
  patch: number
  pre: string[]
}

/** version.ParseGeneric/ParseSemantic: vMAJOR.MINOR.PATCH[-pre][+build]. */
export function parseVersion(v: string): Semver | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(v.trim())
  if (!m) return undefined
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ? m[4].split('.') : [] }
}

/** a < b, pre-releases sorting before their release, as semver says. */
export function lessThan(a: Semver, b: Semver): boolean {
  const core = a.major - b.major || a.minor - b.minor || a.patch - b.patch
  if (core !== 0) return core < 0
  if (a.pre.length === 0) return false
  if (b.pre.length === 0) return true
  for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]
    const y = b.pre[i]
    if (x === undefined) return true
    if (y === undefined) return false
    if (x === y) continue
    const nx = /^\d+$/.test(x) ? Number(x) : undefined
    const ny = /^\d+$/.test(y) ? Number(y) : undefined
    if (nx !== undefined && ny !== undefined) return nx < ny
    if (nx !== undefined) return true
    if (ny !== undefined) return false
    return x < y
  }
  return false
}

const at = (v: string): Semver => parseVersion(v)!

/** The kubeadm API version kind v0.32.0 writes for a Kubernetes version. */
export function kubeadmApiVersion(kubernetesVersion: string): 'v1beta2' | 'v1beta3' | 'v1beta4' {
  const v = parseVersion(kubernetesVersion)
  if (!v) throw new Error(`could not parse "${kubernetesVersion}" as version`)
  if (lessThan(v, at('v1.23.0'))) return 'v1beta2'
  if (lessThan(v, at('v1.36.0'))) return 'v1beta3'
  return 'v1beta4'
}

/** `name=value` pairs as kubeadm v1beta4 lists them, or the map older versions take. */
function args(list: boolean, pairs: [string, string][]): Json {
  if (pairs.length === 0) return null
  return list ? pairs.map(([name, value]) => ({ name, value })) : Object.fromEntries(pairs)
}

/** The documents of kind's template for one node (ConfigTemplateBetaV2/V3/V4, as data). */
function template(cluster: ClusterConfig, node: NodeConfig, data: NodeData): Doc[] {
  const beta = kubeadmApiVersion(data.kubernetesVersion)
  const apiVersion = `kubeadm.k8s.io/${beta}`
  const list = beta === 'v1beta4'
  const metadata = { name: 'config' }
  const gates = Object.keys(cluster.featureGates).sort()
  const gatesString = gates.map((k) => `${k}=${cluster.featureGates[k]}`).join(',')
  const runtimeConfig = Object.keys(cluster.runtimeConfig)
    .sort()
    .map((k) => `${k}=${cluster.runtimeConfig[k]}`)
    .join(',')
  const gateArg: [string, string][] = gates.length > 0 ? [['feature-gates', gatesString]] : []
  const labels = Object.entries(node.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  const kubeletExtraArgs = args(list, [
    ['node-ip', data.nodeAddress],
    ['provider-id', `kind://docker/${data.clusterName}/${data.nodeName}`],
    ['node-labels', labels],
  ])
  const nodeRegistration: Doc = { criSocket: 'unix:///run/containerd/containerd.sock', kubeletExtraArgs }
  const controlPlane = node.role === CONTROL_PLANE_ROLE
  const skipPhases: Json = beta === 'v1beta2' ? null : ['preflight', ...(cluster.networking.kubeProxyMode === 'none' ? ['addon/kube-proxy'] : [])]
  const docs: Doc[] = [
    {
      apiVersion,
      kind: 'ClusterConfiguration',
      metadata,
      kubernetesVersion: data.kubernetesVersion,
      clusterName: data.clusterName,
      controlPlaneEndpoint: data.controlPlaneEndpoint,
      apiServer: {
        certSANs: ['localhost', cluster.networking.apiServerAddress],
        extraArgs: args(list, [['runtime-config', runtimeConfig], ...gateArg]),
      },
      controllerManager: { extraArgs: args(list, [...gateArg, ['enable-hostpath-provisioner', 'true']]) },
      scheduler: { extraArgs: args(list, gateArg) },
      networking: { podSubnet: cluster.networking.podSubnet, serviceSubnet: cluster.networking.serviceSubnet },
    },
    {
      apiVersion,
      kind: 'InitConfiguration',
      metadata,
      bootstrapTokens: [{ token: TOKEN }],
      localAPIEndpoint: { advertiseAddress: data.nodeAddress, bindPort: API_SERVER_PORT },
      nodeRegistration,
      ...(skipPhases === null ? {} : { skipPhases }),
    },
    {
      apiVersion,
      kind: 'JoinConfiguration',
      metadata,
      ...(controlPlane ? { controlPlane: { localAPIEndpoint: { advertiseAddress: data.nodeAddress, bindPort: API_SERVER_PORT } } } : {}),
      nodeRegistration,
      discovery: { bootstrapToken: { apiServerEndpoint: data.controlPlaneEndpoint, token: TOKEN, unsafeSkipCAVerification: true } },
      ...(skipPhases === null ? {} : { skipPhases }),
    },
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      metadata,
      cgroupDriver: lessThan(at(data.kubernetesVersion), at('v1.24.0')) ? 'cgroupfs' : 'systemd',
      cgroupRoot: '/kubelet',
      failSwapOn: false,
      imageGCHighThresholdPercent: 100,
      evictionHard: { 'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%' },
      ...(gates.length > 0 ? { featureGates: Object.fromEntries(gates.map((k) => [k, cluster.featureGates[k]!])) } : {}),
    },
  ]
  if (cluster.networking.kubeProxyMode !== 'none') {
    docs.push({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      metadata,
      mode: cluster.networking.kubeProxyMode,
      ...(gates.length > 0 ? { featureGates: Object.fromEntries(gates.map((k) => [k, cluster.featureGates[k]!])) } : {}),
      iptables: { minSyncPeriod: '1s' },
      conntrack: { maxPerCore: 0 },
    })
  }
  return docs
}

const isObject = (v: Json | undefined): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v)

/** mergeExtraArgs: name/value items replaced in place, removed by a null value, appended when new. */
function mergeExtraArgs(target: Doc, patch: Doc, key: string, patchVersion: string): void {
  const patchValue = patch[key]
  let items: Json[] = []
  if (Array.isArray(patchValue)) items = patchValue
  else if (patchVersion === '' && isObject(patchValue)) items = Object.entries(patchValue).map(([name, value]) => ({ name, value }))
  const current = target[key]
  const merged: Json[] = Array.isArray(current) ? [...current] : isObject(current) ? Object.entries(current).map(([name, value]) => ({ name, value })) : []
  for (const item of items) {
    if (!isObject(item) || typeof item.name !== 'string') continue
    const value = item.value ?? null
    const found = merged.findIndex((t) => isObject(t) && t.name === item.name)
    if (found >= 0) {
      if (value === null) merged.splice(found, 1)
      else (merged[found] as Doc).value = value
    } else if (value !== null) merged.push({ name: item.name, value })
  }
  target[key] = merged
}

/** walkAndMerge: extraArgs and kubeletExtraArgs (for v1beta4 targets) and certSANs merged by hand, then taken out of the patch. */
function walkAndMerge(target: Doc, patch: Doc, targetVersion: string, patchVersion: string): void {
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'extraArgs' || key === 'kubeletExtraArgs') {
      if (targetVersion.endsWith('v1beta4')) {
        mergeExtraArgs(target, patch, key, patchVersion)
        delete patch[key]
      }
      continue
    }
    if (key === 'certSANs') {
      const current = Array.isArray(target[key]) ? [...(target[key] as Json[])] : []
      for (const san of Array.isArray(value) ? value : []) if (!current.includes(san)) current.push(san)
      target[key] = current
      delete patch[key]
      continue
    }
    if (isObject(value)) {
      if (!(key in target)) target[key] = {}
      const inner = target[key]
      if (isObject(inner)) walkAndMerge(inner, value, targetVersion, patchVersion)
    }
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch
  const out: Doc = isObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key] ?? null, value)
  }
  return out
}

/** RFC 6902 JSON patch (add, remove, replace, copy, move, test). */
function jsonPatch(doc: Doc, ops: Json): Doc {
  if (!Array.isArray(ops)) throw new Error('a JSON 6902 patch must be a list of operations')
  let root: Json = structuredClone(doc)
  const pointer = (path: string): string[] => path.split('/').slice(1).map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
  const parentOf = (parts: string[]): { parent: Json; key: string } => {
    let parent: Json = root
    for (const part of parts.slice(0, -1)) {
      parent = Array.isArray(parent) ? (parent[Number(part)] ?? null) : isObject(parent) ? (parent[part] ?? null) : null
      if (parent === null) throw new Error(`doc is missing path: /${parts.join('/')}`)
    }
    return { parent, key: parts[parts.length - 1] ?? '' }
  }
  const get = (path: string): Json => {
    const { parent, key } = parentOf(pointer(path))
    const value = Array.isArray(parent) ? parent[Number(key)] : isObject(parent) ? parent[key] : undefined
    if (value === undefined) throw new Error(`doc is missing key: ${path}`)
    return value
  }
  const put = (path: string, value: Json, replace: boolean): void => {
    const parts = pointer(path)
    if (parts.length === 0) {
      root = value
      return
    }
    const { parent, key } = parentOf(parts)
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key)
      parent.splice(index, replace ? 1 : 0, value)
    } else if (isObject(parent)) {
      if (replace && !(key in parent)) throw new Error(`doc is missing key: ${path}`)
      parent[key] = value
    }
  }
  const remove = (path: string): void => {
    const { parent, key } = parentOf(pointer(path))
    if (Array.isArray(parent)) parent.splice(Number(key), 1)
    else if (isObject(parent)) {
      if (!(key in parent)) throw new Error(`Unable to remove nonexistent key: ${key}: missing value`)
      delete parent[key]
    }
  }
  for (const op of ops) {
    if (!isObject(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw new Error('invalid JSON 6902 operation')
    const value = op.value ?? null
    switch (op.op) {
      case 'add':
        put(op.path, value, false)
        break
      case 'replace':
        put(op.path, value, true)
        break
      case 'remove':
        remove(op.path)
        break
      case 'copy':
        put(op.path, structuredClone(get(String(op.from))), false)
        break
      case 'move': {
        const moved = get(String(op.from))
        remove(String(op.from))
        put(op.path, moved, false)
        break
      }
      case 'test':
        if (JSON.stringify(get(op.path)) !== JSON.stringify(value)) throw new Error(`testing value ${op.path} failed: test failed`)
        break
      default:
        throw new Error(`Unexpected kind: ${op.op}`)
    }
  }
  return root as Doc
}

/** patch.KubeYAML: merge patches then JSON 6902 patches, each on the documents it matches. */
function applyPatches(docs: Doc[], patches: string[], patches6902: PatchJSON6902[]): Doc[] {
  const merges = patches.map((text) => {
    let parsed: Json
    try {
      parsed = YAML.parse(text) as Json
    } catch (error) {
      throw wrap(new Error((error as Error).message.split('\n')[0]), 'failed to parse patches')
    }
    if (!isObject(parsed)) throw new Error('failed to parse patches: a patch must be a YAML object')
    return { patch: parsed, kind: typeof parsed.kind === 'string' ? parsed.kind : '', apiVersion: typeof parsed.apiVersion === 'string' ? parsed.apiVersion : '' }
  })
  const json6902 = patches6902.map((p) => {
    let ops: Json
    try {
      ops = YAML.parse(p.patch) as Json
    } catch (error) {
      throw wrap(new Error((error as Error).message.split('\n')[0]), 'failed to parse JSON 6902 patches')
    }
    return { apiVersion: p.group ? `${p.group}/${p.version}` : p.version, kind: p.kind, ops }
  })
  return docs.map((original) => {
    let doc = original
    const kind = String(doc.kind ?? '')
    const apiVersion = String(doc.apiVersion ?? '')
    for (const m of merges) {
      if (m.kind !== kind || (m.apiVersion !== '' && m.apiVersion !== apiVersion)) continue
      const target = structuredClone(doc)
      const stripped = structuredClone(m.patch) as Doc
      walkAndMerge(target, stripped, apiVersion, m.apiVersion)
      doc = mergePatch(target, stripped) as Doc
    }
    for (const p of json6902) {
      if (p.kind !== kind || p.apiVersion !== apiVersion) continue
      try {
        doc = jsonPatch(doc, p.ops)
      } catch (error) {
        throw wrap(error, 'failed to apply JSON 6902 patch')
      }
    }
    return doc
  })
}

/** sigs.k8s.io/yaml's encoding: map keys sorted, sequences not indented. */
function encode(doc: Doc): string {
  return sortedYaml(doc)
}

export interface KubeadmConfig {
  /** The text written to /kind/kubeadm.conf. */
  text: string
  docs: Doc[]
}

/** getKubeadmConfig: the template, the cluster's patches, then the node's own; without the template's `metadata: name: config`. */
export function kubeadmConfig(cluster: ClusterConfig, node: NodeConfig, data: NodeData): KubeadmConfig {
  let docs = template(cluster, node, data)
  docs = applyPatches(docs, cluster.kubeadmConfigPatches, cluster.kubeadmConfigPatchesJSON6902)
  if (node.kubeadmConfigPatches.length > 0 || node.kubeadmConfigPatchesJSON6902.length > 0) {
    docs = applyPatches(docs, node.kubeadmConfigPatches, node.kubeadmConfigPatchesJSON6902)
  }
  const text = docs.map(encode).join('---\n').replaceAll('metadata:\n  name: config\n', '')
  return { text, docs }
}

/** The API server's static pod as kubeadm writes it: what the emulator serves as its mirror pod. */
export interface ApiServerPod {
  /** registry.k8s.io/kube-apiserver:<kubernetesVersion, + as _> (images.GetKubernetesImage). */
  image: string
  /** getAPIServerCommand: kube-apiserver, then --name=value sorted by name, then value. */
  command: string[]
  /** The kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint annotation. */
  advertiseAddressEndpoint: string
}

interface Arg {
  name: string
  value: string
}

/** ClusterConfiguration extraArgs as kubeadm holds them: v1beta4's list, or the older map. */
function argList(extra: Json | undefined): Arg[] {
  const value = (v: Json | undefined): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v))
  if (Array.isArray(extra)) return extra.filter(isObject).map((item) => ({ name: String(item.name ?? ''), value: value(item.value) }))
  if (isObject(extra)) return Object.entries(extra).map(([name, v]) => ({ name, value: value(v) }))
  return []
}

/** kubeadmapi.SetArgValues(args, name, value, 1): the first arg of that name gets the value, else it is appended. */
function setArg(args: Arg[], name: string, value: string): void {
  const found = args.find((a) => a.name === name)
  if (found) found.value = value
  else args.push({ name, value })
}

/** getAuthzModes: Node,RBAC unless the extraArgs name valid modes. */
function authzModes(requested: string | undefined): string {
  const valid = ['Node', 'RBAC', 'Webhook', 'ABAC', 'AlwaysAllow', 'AlwaysDeny']
  const modes = (requested ?? '').split(',').filter((m) => valid.includes(m))
  return modes.length > 0 ? modes.join(',') : 'Node,RBAC'
}

/** net.JoinHostPort. */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/**
 * The kube-apiserver static pod kubeadm 1.36 writes from the bootstrap
 * control plane's config (cmd/kubeadm/app/phases/controlplane/manifests.go:
 * GetStaticPodSpecs, getAPIServerCommand; util.ArgumentsToCommand): its
 * default arguments (--enable-admission-plugins=NodeRestriction among them,
 * --authorization-mode=Node,RBAC unless extraArgs give
 * authorization-config, local etcd unless the config names an external
 * one), each replaced by the apiServer.extraArgs of that name, which are
 * all kept (so a name given twice appears twice), sorted by name, then by
 * value. kubeadm's own defaults where the config says nothing:
 * certificatesDir /etc/kubernetes/pki, serviceSubnet 10.96.0.0/12,
 * dnsDomain cluster.local, imageRepository registry.k8s.io, bindPort 6443.
 */
export function apiServerPod(docs: Doc[]): ApiServerPod {
  const cluster = docs.find((d) => d.kind === 'ClusterConfiguration') ?? {}
  const init = docs.find((d) => d.kind === 'InitConfiguration') ?? {}
  const object = (v: Json | undefined): Doc => (isObject(v) ? v : {})
  const text = (v: Json | undefined, fallback: string): string => (typeof v === 'string' && v !== '' ? v : fallback)
  const endpoint = object(init.localAPIEndpoint)
  const address = text(endpoint.advertiseAddress, '')
  const port = typeof endpoint.bindPort === 'number' && endpoint.bindPort > 0 ? endpoint.bindPort : API_SERVER_PORT
  const networking = object(cluster.networking)
  const pki = text(cluster.certificatesDir, '/etc/kubernetes/pki')
  const at = (file: string): string => `${pki}/${file}`
  const args: Arg[] = [
    { name: 'advertise-address', value: address },
    { name: 'enable-admission-plugins', value: 'NodeRestriction' },
    { name: 'service-cluster-ip-range', value: text(networking.serviceSubnet, '10.96.0.0/12') },
    { name: 'service-account-key-file', value: at('sa.pub') },
    { name: 'service-account-signing-key-file', value: at('sa.key') },
    { name: 'service-account-issuer', value: `https://kubernetes.default.svc.${text(networking.dnsDomain, 'cluster.local')}` },
    { name: 'client-ca-file', value: at('ca.crt') },
    { name: 'tls-cert-file', value: at('apiserver.crt') },
    { name: 'tls-private-key-file', value: at('apiserver.key') },
    { name: 'kubelet-client-certificate', value: at('apiserver-kubelet-client.crt') },
    { name: 'kubelet-client-key', value: at('apiserver-kubelet-client.key') },
    { name: 'enable-bootstrap-token-auth', value: 'true' },
    { name: 'secure-port', value: String(port) },
    { name: 'allow-privileged', value: 'true' },
    { name: 'kubelet-preferred-address-types', value: 'InternalIP,ExternalIP,Hostname' },
    { name: 'requestheader-username-headers', value: 'X-Remote-User' },
    { name: 'requestheader-group-headers', value: 'X-Remote-Group' },
    { name: 'requestheader-extra-headers-prefix', value: 'X-Remote-Extra-' },
    { name: 'requestheader-client-ca-file', value: at('front-proxy-ca.crt') },
    { name: 'requestheader-allowed-names', value: 'front-proxy-client' },
    { name: 'proxy-client-cert-file', value: at('front-proxy-client.crt') },
    { name: 'proxy-client-key-file', value: at('front-proxy-client.key') },
  ]
  const etcd = object(cluster.etcd)
  const external = isObject(etcd.external) ? etcd.external : undefined
  if (external) {
    setArg(args, 'etcd-servers', (Array.isArray(external.endpoints) ? external.endpoints : []).map(String).join(','))
    if (typeof external.caFile === 'string' && external.caFile !== '') setArg(args, 'etcd-cafile', external.caFile)
    if (typeof external.certFile === 'string' && external.certFile !== '' && typeof external.keyFile === 'string' && external.keyFile !== '') {
      setArg(args, 'etcd-certfile', external.certFile)
      setArg(args, 'etcd-keyfile', external.keyFile)
    }
  } else {
    setArg(args, 'etcd-servers', `https://${joinHostPort(address.includes(':') ? '::1' : '127.0.0.1', 2379)}`)
    setArg(args, 'etcd-cafile', at('etcd/ca.crt'))
    setArg(args, 'etcd-certfile', at('apiserver-etcd-client.crt'))
    setArg(args, 'etcd-keyfile', at('apiserver-etcd-client.key'))
    const advertised = argList(object(etcd.local).extraArgs).findLast((a) => a.name === 'advertise-client-urls')
    if (advertised) setArg(args, 'etcd-servers', advertised.value)
  }
  const extra = argList(object(cluster.apiServer).extraArgs)
  if (!extra.some((a) => a.name === 'authorization-config')) {
    setArg(args, 'authorization-mode', authzModes(extra.findLast((a) => a.name === 'authorization-mode')?.value))
  }
  // ArgumentsToCommand: the overrides, then the base args they do not name, sorted.
  const overridden = new Set(extra.map((a) => a.name))
  const all = [...extra, ...args.filter((a) => !overridden.has(a.name))]
  all.sort((a, b) => (a.name === b.name ? compare(a.value, b.value) : compare(a.name, b.name)))
  const version = text(cluster.kubernetesVersion, '')
  return {
    image: `${text(cluster.imageRepository, 'registry.k8s.io')}/kube-apiserver:${version.replaceAll('+', '_')}`,
    command: ['kube-apiserver', ...all.map((a) => `--${a.name}=${a.value}`)],
    advertiseAddressEndpoint: joinHostPort(address, port),
  }
}

/** Go's string order (bytes). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export interface AdmissionFlags {
  enable: string[]
  disable: string[]
}

/**
 * The API server's admission flags, as kube-apiserver reads them from the
 * command of its static pod: --enable-admission-plugins and
 * --disable-admission-plugins are pflag string slices (comma-separated; the
 * first occurrence replaces the default, later ones add to it).
 */
export function admissionFlags(command: string[]): AdmissionFlags {
  const slice = (flag: string): string[] =>
    command
      .filter((arg) => arg.startsWith(`--${flag}=`))
      .flatMap((arg) => arg.slice(flag.length + 3).split(',').map((p) => p.trim()).filter(Boolean))
  return { enable: slice('enable-admission-plugins'), disable: slice('disable-admission-plugins') }
}
