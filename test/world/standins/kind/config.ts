// kind's cluster config (kind.x-k8s.io/v1alpha4, kind: Cluster): loaded as
// pkg/internal/apis/config/encoding does (only that apiVersion and kind,
// decoded strictly: an unknown field is an error with its line, in
// yaml.v3's words), defaulted, and validated with kind's messages.
import { YAML } from 'zx'
import { aggregate } from './errors.ts'

// The parts of the yaml library's document model (what zx's YAML is) that a
// strict decode with line numbers needs.
interface YamlNode {
  range?: [number, number, number]
  value?: unknown
  items?: (YamlNode | YamlPair)[]
}
interface YamlPair {
  key: YamlNode | null
  value: YamlNode | null
}
interface YamlDocument {
  contents: YamlNode | null
  errors: { message: string; linePos?: { line: number }[] }[]
  toJS(): unknown
}
const yaml = YAML as unknown as {
  parseDocument(source: string, options: object): YamlDocument
  isMap(node: unknown): node is YamlNode & { items: YamlPair[] }
  isSeq(node: unknown): node is YamlNode & { items: YamlNode[] }
  isScalar(node: unknown): node is YamlNode
}

/** The line (from 1) of an offset in the source. */
function lineAt(source: string, offset: number): number {
  let line = 1
  for (let i = 0; i < offset && i < source.length; i++) if (source[i] === '\n') line++
  return line
}

/** kind v0.32.0's default node image (pkg/apis/config/defaults/image.go). */
export const DEFAULT_NODE_IMAGE = 'kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5'
export const DEFAULT_CLUSTER_NAME = 'kind'
export const CONTROL_PLANE_ROLE = 'control-plane'
export const WORKER_ROLE = 'worker'

export interface PatchJSON6902 {
  group: string
  version: string
  kind: string
  patch: string
}

export interface NodeConfig {
  role: string
  image: string
  labels: Record<string, string>
  kubeadmConfigPatches: string[]
  kubeadmConfigPatchesJSON6902: PatchJSON6902[]
}

export interface Networking {
  ipFamily: string
  apiServerPort: number
  apiServerAddress: string
  podSubnet: string
  serviceSubnet: string
  disableDefaultCNI: boolean
  kubeProxyMode: string
}

export interface ClusterConfig {
  name: string
  nodes: NodeConfig[]
  networking: Networking
  featureGates: Record<string, boolean>
  runtimeConfig: Record<string, string>
  kubeadmConfigPatches: string[]
  kubeadmConfigPatchesJSON6902: PatchJSON6902[]
}

type FieldKind = 'string' | 'bool' | 'int' | 'strings' | 'stringMap' | 'boolMap' | 'any' | { seq: Fields } | { map: Fields }
interface Fields {
  /** The Go type yaml.v3 names in its errors. */
  type: string
  fields: Record<string, FieldKind>
}

const patch6902: Fields = { type: 'v1alpha4.PatchJSON6902', fields: { group: 'string', version: 'string', kind: 'string', patch: 'string' } }
const nodeFields: Fields = {
  type: 'v1alpha4.Node',
  fields: {
    role: 'string',
    image: 'string',
    labels: 'stringMap',
    extraMounts: 'any',
    extraPortMappings: 'any',
    kubeadmConfigPatches: 'strings',
    kubeadmConfigPatchesJSON6902: { seq: patch6902 },
  },
}
const networkingFields: Fields = {
  type: 'v1alpha4.Networking',
  fields: {
    ipFamily: 'string',
    apiServerPort: 'int',
    apiServerAddress: 'string',
    podSubnet: 'string',
    serviceSubnet: 'string',
    disableDefaultCNI: 'bool',
    kubeProxyMode: 'string',
    dnsSearch: 'strings',
  },
}
const clusterFields: Fields = {
  type: 'v1alpha4.Cluster',
  fields: {
    kind: 'string',
    apiVersion: 'string',
    name: 'string',
    nodes: { seq: nodeFields },
    networking: { map: networkingFields },
    featureGates: 'boolMap',
    runtimeConfig: 'stringMap',
    kubeadmConfigPatches: 'strings',
    kubeadmConfigPatchesJSON6902: { seq: patch6902 },
    containerdConfigPatches: 'strings',
    containerdConfigPatchesJSON6902: 'strings',
  },
}

const TAGS: Record<string, string> = { string: '!!str', number: '!!int', boolean: '!!bool', object: '!!map' }

/** yaml.v3's strict decoding errors ("line N: field x not found in type T", "cannot unmarshal"), gathered as it does. */
function strictErrors(node: unknown, fields: Fields, source: string, errors: string[]): void {
  if (!yaml.isMap(node)) return
  for (const pair of node.items) {
    const key = yaml.isScalar(pair.key) ? String(pair.key.value) : ''
    const line = pair.key?.range ? lineAt(source, pair.key.range[0]) : 0
    const kind = fields.fields[key]
    if (kind === undefined) {
      errors.push(`line ${line}: field ${key} not found in type ${fields.type}`)
      continue
    }
    const value = pair.value
    const valueLine = value?.range ? lineAt(source, value.range[0]) : line
    const mismatch = (goType: string): void => {
      const shown = yaml.isScalar(value) ? `${TAGS[typeof value.value] ?? '!!str'} \`${String(value.value)}\`` : yaml.isSeq(value) ? '!!seq' : '!!map'
      errors.push(`line ${valueLine}: cannot unmarshal ${shown} into ${goType}`)
    }
    if (value === null || (yaml.isScalar(value) && value.value === null)) continue
    if (typeof kind === 'object') {
      if ('seq' in kind) {
        if (!yaml.isSeq(value)) mismatch(`[]${kind.seq.type}`)
        else for (const item of value.items) strictErrors(item, kind.seq, source, errors)
      } else if (!yaml.isMap(value)) mismatch(kind.map.type)
      else strictErrors(value, kind.map, source, errors)
      continue
    }
    if (kind === 'string' && !(yaml.isScalar(value) && typeof value.value !== 'object')) mismatch('string')
    if (kind === 'bool' && !(yaml.isScalar(value) && typeof value.value === 'boolean')) mismatch('bool')
    if (kind === 'int' && !(yaml.isScalar(value) && Number.isInteger(value.value))) mismatch('int32')
    if (kind === 'strings' && !yaml.isSeq(value)) mismatch('[]string')
    if ((kind === 'stringMap' || kind === 'boolMap') && !yaml.isMap(value)) mismatch(kind === 'stringMap' ? 'map[string]string' : 'map[string]bool')
  }
}

/** encoding.Parse: the apiVersion and kind, then a strict decode, defaults applied. */
export function parseConfig(raw: string): ClusterConfig {
  let typeMeta: { kind?: unknown; apiVersion?: unknown }
  const doc = yaml.parseDocument(raw, { uniqueKeys: false })
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!
    throw new Error(`could not determine kind / apiVersion for config: yaml: line ${first.linePos?.[0]?.line ?? 0}: ${first.message.split('\n')[0]}`)
  }
  try {
    typeMeta = (doc.toJS() ?? {}) as { kind?: unknown; apiVersion?: unknown }
  } catch (error) {
    throw new Error(`could not determine kind / apiVersion for config: ${(error as Error).message}`)
  }
  const apiVersion = typeof typeMeta.apiVersion === 'string' ? typeMeta.apiVersion : ''
  const kind = typeof typeMeta.kind === 'string' ? typeMeta.kind : ''
  if (apiVersion !== 'kind.x-k8s.io/v1alpha4') throw new Error(`unknown apiVersion: ${apiVersion}`)
  if (kind !== 'Cluster') throw new Error(`unknown kind ${kind} for apiVersion: ${apiVersion}`)
  const errors: string[] = []
  strictErrors(doc.contents, clusterFields, raw, errors)
  if (errors.length > 0) throw new Error(`unable to decode config: yaml: unmarshal errors:\n  ${errors.join('\n  ')}`)
  return withDefaults(typeMeta as Record<string, unknown>)
}

/** SetDefaultsCluster: the name, one control-plane node, the default image, networking. */
export function withDefaults(raw: Record<string, unknown> = {}): ClusterConfig {
  const nodes = Array.isArray(raw.nodes) && raw.nodes.length > 0 ? (raw.nodes as Record<string, unknown>[]) : [{}]
  const net = (raw.networking ?? {}) as Partial<Networking>
  return {
    name: typeof raw.name === 'string' && raw.name !== '' ? raw.name : DEFAULT_CLUSTER_NAME,
    nodes: nodes.map((node) => ({
      role: typeof node?.role === 'string' && node.role !== '' ? node.role : CONTROL_PLANE_ROLE,
      image: typeof node?.image === 'string' && node.image !== '' ? node.image : DEFAULT_NODE_IMAGE,
      labels: (node?.labels ?? {}) as Record<string, string>,
      kubeadmConfigPatches: (node?.kubeadmConfigPatches ?? []) as string[],
      kubeadmConfigPatchesJSON6902: (node?.kubeadmConfigPatchesJSON6902 ?? []) as PatchJSON6902[],
    })),
    networking: {
      ipFamily: net.ipFamily || 'ipv4',
      apiServerPort: net.apiServerPort ?? 0,
      apiServerAddress: net.apiServerAddress || '127.0.0.1',
      podSubnet: net.podSubnet || '10.244.0.0/16',
      serviceSubnet: net.serviceSubnet || '10.96.0.0/16',
      disableDefaultCNI: net.disableDefaultCNI ?? false,
      kubeProxyMode: net.kubeProxyMode || 'iptables',
    },
    featureGates: (raw.featureGates ?? {}) as Record<string, boolean>,
    runtimeConfig: (raw.runtimeConfig ?? {}) as Record<string, string>,
    kubeadmConfigPatches: (raw.kubeadmConfigPatches ?? []) as string[],
    kubeadmConfigPatchesJSON6902: (raw.kubeadmConfigPatchesJSON6902 ?? []) as PatchJSON6902[],
  }
}

export const VALID_NAME = /^[a-z0-9.-]+$/

/** Cluster.Validate, with its messages and its aggregation. */
export function validate(config: ClusterConfig): Error | undefined {
  const errors: string[] = []
  if (!VALID_NAME.test(config.name)) {
    errors.push(`'${config.name}' is not a valid cluster name, cluster names must match \`${VALID_NAME.source}\``)
  }
  const port = config.networking.apiServerPort
  if (port !== 0 && (port < -1 || port > 65535)) errors.push(`invalid apiServerPort: invalid port number: ${port}`)
  if (!['ipv4', 'ipv6', 'dual'].includes(config.networking.ipFamily)) errors.push(`invalid ipFamily: ${config.networking.ipFamily}`)
  if (!['iptables', 'ipvs', 'none', 'nftables'].includes(config.networking.kubeProxyMode)) errors.push(`invalid kubeProxyMode: ${config.networking.kubeProxyMode}`)
  config.nodes.forEach((node, i) => {
    if (node.role !== CONTROL_PLANE_ROLE && node.role !== WORKER_ROLE) {
      errors.push(`invalid configuration for node ${i}: ${JSON.stringify(node.role)} is not a valid node role`)
    }
  })
  if (!config.nodes.some((node) => node.role === CONTROL_PLANE_ROLE)) errors.push(`must have at least one ${CONTROL_PLANE_ROLE} node`)
  return aggregate(errors)
}
