// Tasks are the verbs of the dev loop (fetch-source, build, image, ...), and
// workflows order them. A task is a small object; it sees one variant's
// context and the services container, so tests swap services without
// monkey-patching modules.
import type { Config, Variant } from '../config/config.ts'
import type { Emit } from './events.ts'
import type { Runner } from '../runner/runner.ts'

/** What the run learns about one variant as its tasks go, read by later tasks and the summary. */
export interface VariantState {
  /** $GOPATH of the tree that is built: kube-spawn --dev reads $GOPATH/src/k8s.io/kubernetes/_output. */
  gopath?: string
  /** The git worktree kspawn owns for this variant: <gopath>/src/k8s.io/kubernetes. */
  worktree?: string
  /** The exact commit checked out in the worktree. */
  commit?: string
  /** gitVersion of what was built (hack/print-workspace-status.sh), which the cluster must report. */
  gitVersion?: string
  /** The local image the deployer takes: gcr.io/google-containers/hyperkube-amd64:<tag>. */
  image?: string
  /** The reference share-image pushed, with its digest: `<repository>/hyperkube-amd64@sha256:...`. */
  shared?: string
  /** The Kubernetes build the cluster's machines take kubeadm and kubelet from (kube-spawn --dev reads them from a build, not from the image). */
  binaries?: { dir: string; gitVersion: string; from: string }
  /** The image the control plane runs and where it came from, e.g. `gcr.io/...:<tag>, pulled from <ref>`. */
  controlPlane?: string
  /** What kspawn could tell of the kubeadm an image variant's patch needs, for the summary. */
  kubeadmNote?: string
  /** The cluster's kubeconfig, once it is up. */
  kubeconfig?: string
  /**
   * The cluster cluster-up began to make and did not bring up, while it is
   * left: the run was interrupted, or removing it failed. The summary says to
   * remove it; a resumed run replaces it.
   */
  halfMadeCluster?: string
  /** Outcome of each smoke test, in order. */
  smoke?: SmokeResult[]
}

export interface SmokeResult {
  /** e.g. "attach is denied with /rejected by admission controller/" */
  expectation: string
  passed: boolean
  /** What was seen, for the summary: the command and the output it gave. */
  observed: string
  /** For a failed expectation, one sentence of what was seen against what was expected, e.g. `attach was allowed: expected it to be denied with /rejected by/`. */
  message?: string
}

export interface RunInfo {
  id: string
  /** <workdir>/runs/<id>: per-step logs, the event log, state.json. */
  dir: string
  dryRun: boolean
  /** Replace an existing cluster of the same name instead of refusing. */
  recreate: boolean
}

export interface TaskContext {
  config: Config
  variant: Variant
  state: VariantState
  run: RunInfo
}

export interface Services {
  runner: Runner
  emit: Emit
  isRoot: boolean
  /** Aborted when the run is interrupted: for work that does not go through the runner (simple-git takes it as `abort`). */
  signal: AbortSignal
}

/** The tasks of the dev loop. */
export type TaskId = 'fetch-source' | 'build' | 'image' | 'use-image' | 'cluster-up' | 'smoke-test' | 'share-image'

export interface Task {
  /** What `kspawn task <id>` takes: lowercase words joined by `-`, e.g. `fetch-source`. */
  id: TaskId | (string & {})
  /** One line for `kspawn list`, e.g. "build/run.sh make in the variant's worktree". */
  description: string
  title(ctx: TaskContext): string
  /** A reason to skip (e.g. "image variant: nothing to build"), or false to run. */
  skip?(ctx: TaskContext, services: Services): string | false | Promise<string | false>
  run(ctx: TaskContext, services: Services): Promise<void>
  /** Undo what run() made when it fails half-way (e.g. a half-created cluster). */
  rollback?(ctx: TaskContext, services: Services): Promise<void>
}

export interface Workflow {
  id: string
  description: string
  /** Run in order for each variant; variants run concurrently. */
  tasks: Task[]
}
