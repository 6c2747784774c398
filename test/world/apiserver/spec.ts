// What the kube-spawn stand-in tells the API server emulator about a cluster
// it started. Written as JSON next to the cluster's kubeconfig.
export interface MachineSpec {
  /**
   * Docker container name, which is also the machine name (kubespawn<cluster><index>).
   * Its node, once its kubelet registers, is named after the kubelet's
   * --hostname-override (else the container's hostname), lower-cased.
   */
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
  /** A node reports Ready only this long after its kubelet registered it. */
  nodeReadySeconds: number
  /** Once listening, the emulator writes {"pid","port","url"} here (JSON). Empty: no ready file. */
  readyFile: string
  /** Optional: port to listen on, 127.0.0.1 only (default 0: any free port). */
  port?: number
  /**
   * Optional: also serve the API on 127.0.0.1:<masterPort> inside the running
   * master machine (kube-spawn's is 6443, where kubeadm init finds it). Needs
   * root: the emulator enters the machine's network namespace with nsenter.
   */
  masterPort?: number
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
