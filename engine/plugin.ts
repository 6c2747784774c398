// The interfaces behind which backends plug in. A config holds plugin values
// returned by factories such as `kubeSpawn()`; each value names its kind and
// plugin, and carries its own settings as its own fields. The behaviour (a
// deployer's up and down; a tester's run) is in methods on the value's
// prototype, so the engine validates plugin values by their fields and keeps
// the object the factory returned.
import type { Command, CommandResult } from './runner/runner.ts'
import type { SmokeResult } from './run/task.ts'

export interface Plugin {
  readonly kind: string
  /** Which plugin made this value, e.g. `kube-spawn`; the config is validated against that plugin's fields. */
  readonly name: string
}

/** What a plugin's behaviour gets from the step it runs in. */
export interface StepIO {
  /** Runs a command as part of the step: into its log file and events, printed instead of run in dry-run unless it only reads. */
  run(command: Command): Promise<CommandResult>
  info(message: string): void
  warn(message: string): void
  readonly dryRun: boolean
  /** Whether kspawn runs as root, which decides whether commands that need root get `sudo -E`. */
  readonly isRoot: boolean
}

/** One variant's cluster, as a deployer is asked to bring it up. */
export interface ClusterSpec {
  /** e.g. `denyattach` */
  name: string
  /** The cluster runs the local image gcr.io/google-containers/hyperkube-amd64:<tag>. */
  tag: string
  /** The $GOPATH whose src/k8s.io/kubernetes/_output holds the Kubernetes build (kubelet, kubeadm) the machines get. */
  gopath: string
}

/** Whether a cluster's machines run, as the deployer's own files and the machine manager say. */
export type ClusterState = 'running' | 'stopped' | 'partly running' | 'gone'

export interface ClusterStatus {
  state: ClusterState
  /** The cluster's machines, running or not; none when it is gone. */
  machines: string[]
  /** Those of its machines that run. */
  running: string[]
  /** The hyperkube image tag, when the deployer's files say. */
  tag?: string
}

/** Creates, inspects and removes the clusters that variants run on. */
export interface Deployer extends Plugin {
  readonly kind: 'deployer'
  readonly options: object
  /** Where a cluster's kubeconfig is once it is up. */
  kubeconfig(cluster: string): string
  /** Seconds the nodes of a cluster that is up get to turn Ready. */
  readySeconds(): number
  /** Whether a cluster of that name exists, up or not. */
  exists(cluster: string): Promise<boolean>
  /** Every cluster the deployer has, whoever made it, by name. */
  clusters(): Promise<string[]>
  /** The state of each cluster named; reads only, so it runs in dry-run too. */
  status(clusters: string[], io: StepIO): Promise<Map<string, ClusterStatus>>
  /** Creates and starts the cluster; fails with a StepError when it does not come up, leaving what it made to down(). */
  up(spec: ClusterSpec, io: StepIO): Promise<void>
  /** Stops the cluster and removes everything it made. */
  down(cluster: string, io: StepIO): Promise<void>
  /** The command lines that remove a cluster by hand, for messages. */
  downCommandLines(cluster: string, isRoot: boolean): string[]
  /** What is left of a cluster, e.g. `its folder /var/lib/kube-spawn/web`; empty when nothing is. Reads only. */
  remains(cluster: string, io: StepIO): Promise<string[]>
}

/** The cluster a smoke test runs against. */
export interface SmokeTarget {
  cluster: string
  kubeconfig: string
  /** Names the test's own objects (pods) so that runs never collide. */
  runId: string
}

/** A smoke test run against a variant's cluster once it is up. */
export interface Tester extends Plugin {
  readonly kind: 'tester'
  /** What the test expects, e.g. `attach is denied with /rejected by admission controller/`. */
  describe(): string
  /** Runs the test; each expectation passed or failed with what was seen. In dry-run it prints its commands and judges nothing. */
  run(target: SmokeTarget, io: StepIO): Promise<SmokeResult[]>
}
