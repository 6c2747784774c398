// The resources this API server serves (core/v1 only) and the discovery
// documents kubectl reads before any request: legacy (/api, /api/v1) and the
// aggregated form (apidiscovery.k8s.io/v2) that kubectl 1.32 asks for first.

export interface ResourceInfo {
  name: string
  singular: string
  kind: string
  namespaced: boolean
  verbs: string[]
  shortNames?: string[]
  categories?: string[]
  subresources: { name: string; kind: string; verbs: string[] }[]
}

export const RESOURCES: ResourceInfo[] = [
  {
    name: 'events',
    singular: 'event',
    kind: 'Event',
    namespaced: true,
    verbs: ['get', 'list', 'watch'],
    shortNames: ['ev'],
    subresources: [],
  },
  {
    name: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    verbs: ['get', 'list', 'watch'],
    shortNames: ['ns'],
    subresources: [],
  },
  {
    name: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    verbs: ['get', 'list', 'patch', 'watch'],
    shortNames: ['no'],
    subresources: [],
  },
  {
    name: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'watch'],
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
    ],
  },
]

export function resourceInfo(name: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.name === name)
}

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'
export const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList'

/** Which aggregated discovery version the Accept header asks for, if any (first acceptable wins). */
export function wantsAggregated(accept: string | undefined): 'v2' | 'v2beta1' | undefined {
  for (const part of (accept ?? '').split(',')) {
    const params = new Map(
      part
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string]),
    )
    if (params.get('g') === 'apidiscovery.k8s.io' && params.get('as') === 'APIGroupDiscoveryList') {
      const v = params.get('v')
      if (v === 'v2' || v === 'v2beta1') return v
    }
    if (part.trim().startsWith('application/json') && !part.includes(';')) return undefined
  }
  return undefined
}

export function apiVersions(hostPort: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: hostPort }],
  }
}

export function apiGroupList() {
  // Only the legacy core group exists here; `kubectl get deployments` then
  // reports the resource type as unknown, as on a server without apps/v1.
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [] }
}

export function apiResourceList() {
  const resources = []
  for (const r of RESOURCES) {
    resources.push({
      name: r.name,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    })
    for (const s of r.subresources) {
      resources.push({ name: `${r.name}/${s.name}`, singularName: '', namespaced: r.namespaced, kind: s.kind, verbs: s.verbs })
    }
  }
  return { kind: 'APIResourceList', groupVersion: 'v1', resources }
}

export function aggregatedCore(version: 'v2' | 'v2beta1') {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: [
      {
        metadata: { creationTimestamp: null },
        versions: [
          {
            version: 'v1',
            resources: RESOURCES.map((r) => ({
              resource: r.name,
              responseKind: { group: '', version: 'v1', kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singular,
              verbs: r.verbs,
              ...(r.shortNames ? { shortNames: r.shortNames } : {}),
              ...(r.categories ? { categories: r.categories } : {}),
              ...(r.subresources.length
                ? {
                    subresources: r.subresources.map((s) => ({
                      subresource: s.name,
                      responseKind: { group: '', version: 'v1', kind: s.kind },
                      verbs: s.verbs,
                    })),
                  }
                : {}),
            })),
            freshness: 'Current',
          },
        ],
      },
    ],
  }
}

export function aggregatedGroups(version: 'v2' | 'v2beta1') {
  return { kind: 'APIGroupDiscoveryList', apiVersion: `apidiscovery.k8s.io/${version}`, metadata: {}, items: [] }
}
