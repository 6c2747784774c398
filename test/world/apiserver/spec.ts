// What the kube-spawn stand-in tells the API server emulator about a cluster
// it started. Written as JSON next to the cluster's kubeconfig.
export interface MachineSpec {
  /** Docker container name, which is also the machine and node name (kubespawn<cluster><index>). */
  name: string
  role: 'master' | 'node'
  /** The address machinectl shows for it (10.22.0.x), reported as the node's InternalIP. */
  address: string
}

export interface ApiServerSpec {
  clusterName: string
  /** gcr.io/google-containers/hyperkube-amd64:<tag>: the image the machines were created from. */
  image: string
  machines: MachineSpec[]
  /** Nodes report Ready only this long after the emulator started. */
  nodeReadySeconds: number
  /** Once listening, the emulator writes {"pid","port","url"} here (JSON). Empty: no ready file. */
  readyFile: string
  /** Optional: port to listen on, 127.0.0.1 only (default 0: any free port). */
  port?: number
  /**
   * Optional: a deleted pod's container gets at most this many seconds between
   * SIGTERM and SIGKILL (default 2; the pod's own grace period is usually 30).
   */
  podGracePeriodCapSeconds?: number
}

export interface ReadyInfo {
  pid: number
  port: number
  url: string
}
