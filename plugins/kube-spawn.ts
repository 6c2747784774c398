// kube-spawn (v0.2) as a deployer: one cluster per variant, made of
// systemd-nspawn machines named kubespawn<cluster><index>.
import type { Deployer } from '../engine/plugin.ts'

export interface KubeSpawnOptions {
  /** Machines in each cluster, the first one being the master. Default 2. */
  nodes?: number
  /** kube-spawn's state folder (its `--dir`); a cluster's kubeconfig is `<dir>/<cluster>/kubeconfig`. Default `/var/lib/kube-spawn`. */
  dir?: string
  /** Run kube-spawn through `sudo -E`: `'auto'` does so unless kspawn already runs as root. Default `'auto'`. */
  sudo?: 'auto' | boolean
}

export interface KubeSpawnDeployer extends Deployer {
  readonly name: 'kube-spawn'
  readonly options: Readonly<Required<KubeSpawnOptions>>
}

export function kubeSpawn(options: KubeSpawnOptions = {}): KubeSpawnDeployer {
  return {
    kind: 'deployer',
    name: 'kube-spawn',
    // Unknown keys are kept so that config validation reports a misspelt option.
    options: { ...options, nodes: options.nodes ?? 2, dir: options.dir ?? '/var/lib/kube-spawn', sudo: options.sudo ?? 'auto' },
  }
}
