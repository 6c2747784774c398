// What a stand-in (kube-spawn's, kind's) tells the API server emulator about a
// cluster it started. Written as JSON next to the cluster's other files.
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

/**
 * The API server's static pod as kubeadm wrote it on the master machine
 * (/etc/kubernetes/manifests/kube-apiserver.yaml): the master's kubelet
 * mirrors it into the API as kube-system/kube-apiserver-<its node>.
 */
export interface ApiServerPodSpec {
  /** The container's image as kubeadm names it: registry.k8s.io/kube-apiserver:<version, + as _>. */
  image: string
  /** The container's command, kubeadm's getAPIServerCommand: ["kube-apiserver", "--advertise-address=...", ...]. */
  command: string[]
  /** The kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint annotation: <address>:<port>. */
  advertiseAddressEndpoint: string
  /**
   * What a `kubectl exec` into the pod runs in the master machine (docker
   * exec), followed by the exec's own command: an argv that runs "$@" with
   * the kube-apiserver of the cluster's image as `kube-apiserver` on PATH.
   */
  execPrefix: string[]
}

export interface ApiServerSpec {
  clusterName: string
  /** The image the machines were created from: gcr.io/google-containers/hyperkube-amd64:<tag>, or kind's node image. */
  image: string
  /**
   * Optional: the command that prints the API server's build info, run in the
   * master machine (docker exec) or, when it is not running, as a throwaway
   * container of `image`. Default ["/hyperkube", "--build-info"], the
   * hyperkube of kube-spawn's machines.
   */
  buildInfoCommand?: string[]
  /**
   * Optional: the API server's --enable-admission-plugins and
   * --disable-admission-plugins, as the cluster's kubeadm config gives them.
   * Names the build does not register make the start fail, as the real
   * kube-apiserver refuses to start.
   */
  enableAdmissionPlugins?: string[]
  disableAdmissionPlugins?: string[]
  /**
   * Optional: the static pod of the API server, served as the master's mirror
   * pod once its node registers (kind's clusters; kube-spawn's have none).
   * Its command is what the cluster's kubeadm config gives, so its
   * --enable/--disable-admission-plugins are the two fields above.
   */
  apiServerPod?: ApiServerPodSpec
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
