// What kspawn knows of the kind deployer without running it.
import { definePlugin, moduleNextTo } from '../../engine/plugin.ts'
import { kind, type KindOptions } from './index.ts'

export const kindPlugin = definePlugin({
  kind: 'deployer',
  name: 'kind',
  module: 'kspawn/plugins/kind',
  file: moduleNextTo(import.meta.url, 'index'),
  example: 'kind()',
  schema: async () => (await import('./schema.ts')).schema,
  revive: (data) => kind(data.options as KindOptions),
  doctor: {
    tools: [
      {
        name: 'kind',
        purpose: 'to build node images and create a cluster for each variant (kind v0.26.0 or later; v0.32.0 or later for Kubernetes 1.36 and later)',
        install: () => 'go install sigs.k8s.io/kind@v0.32.0, or download it from https://github.com/kubernetes-sigs/kind/releases and put it on PATH',
      },
      {
        name: 'make',
        purpose: "to build Kubernetes (kind build node-image runs the tree's make quick-release-images)",
        install: (sudo) => `${sudo}apt-get install make`,
        forBuilds: true,
      },
    ],
    versions: [
      {
        tool: 'kind',
        argv: ['kind', 'version'],
        // `kind v0.32.0 go1.26.3 linux/amd64`
        parse: (output) => /^kind v(\d+\.\d+\.\d+)/m.exec(output)?.[1],
        atLeast: '0.26.0',
        why: 'kspawn passes the Kubernetes tree to kind build node-image as its argument, which kind takes since v0.26.0 (--kube-root is gone)',
      },
    ],
  },
  clusterName: {
    what: 'a lowercase DNS label of at most 50 characters',
    // kind warns beyond 50: a node's hostname, <cluster>-control-plane, must stay within 64 characters.
    problem: (name) => (name.length > 50 ? `it is ${name.length} characters long, more than 50: kind's node hostnames (${name}-control-plane) would pass 64 characters` : undefined),
  },
})
