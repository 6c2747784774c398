// What kspawn knows of the kube-spawn deployer without running it: where
// configs import it from, its schema, how plain data becomes a deployer, what
// `kspawn doctor` checks for it and its rule on cluster names.
import { definePlugin, moduleNextTo } from '../../engine/plugin.ts'
import { kubeSpawn, type KubeSpawnOptions } from './index.ts'
import { machineNameProblem } from './names.ts'

export const kubeSpawnPlugin = definePlugin({
  kind: 'deployer',
  name: 'kube-spawn',
  module: 'kspawn/plugins/kube-spawn',
  file: moduleNextTo(import.meta.url, 'index'),
  example: 'kubeSpawn()',
  schema: async () => (await import('./schema.ts')).schema,
  revive: (data) => kubeSpawn(data.options as KubeSpawnOptions),
  doctor: {
    tools: [
      {
        name: 'make',
        purpose: 'to build Kubernetes and its hyperkube image (build/run.sh make, make -C cluster/images/hyperkube)',
        install: (sudo) => `${sudo}apt-get install make`,
        forBuilds: true,
      },
      {
        name: 'kube-spawn',
        purpose: 'to create and start a cluster for each variant',
        install: () => 'download it from https://github.com/kinvolk/kube-spawn/releases and put it on PATH',
      },
    ],
    sudo: 'to run kube-spawn as root (sudo -E)',
  },
  clusterName: { what: 'a lowercase DNS label not ending in a digit', problem: machineNameProblem },
})
