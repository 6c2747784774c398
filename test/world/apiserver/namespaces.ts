import type { Store } from './store.ts'

// The namespaces every kubeadm cluster starts with; they cannot be changed here.
export const NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system']

export function createNamespaces(store: Store): void {
  for (const name of NAMESPACES) {
    store.create('namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: '', resourceVersion: '', creationTimestamp: '', labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    })
  }
}
