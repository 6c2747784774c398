// Tasks are the verbs of the dev loop (fetch-source, build, image, ...), and
// workflows order them. A task is a small object; it sees one variant's
// context and the services container, so tests swap services without
// monkey-patching modules.
import type { Config, Variant } from '../config/config.ts'
import { formatCommandLine } from '../runner/command-line.ts'
import type { Emit } from './events.ts'
import type { Runner } from '../runner/runner.ts'

/** What the run learns about one variant as its tasks go, read by later tasks and the summary. */
export interface VariantState {
  /** The GOPATH-shaped folder of the tree that is built: the worktree is its src/k8s.io/kubernetes. */
  gopath?: string
  /** The git worktree kspawn owns for this variant: <gopath>/src/k8s.io/kubernetes. */
  worktree?: string
  /** The exact commit checked out in the worktree. */
  commit?: string
  /** gitVersion of what was built (hack/print-workspace-status.sh), which the cluster must report. */
  gitVersion?: string
  /** The local image the deployer runs (Deployer.image). */
  image?: string
  /** Where what the cluster runs came from, for the summary: `built in this run (<id>)`, `reused the build of run X, variant y (...)`, `pulled from the cache <ref> (built by ...)`. */
  built?: string
  /** The reference share-image pushed, with its digest: `<repository>/<name>@sha256:...`. */
  shared?: string
  /** The Kubernetes build the cluster's machines take kubeadm and kubelet from, when the deployer takes them from a build and not from the image. */
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
  /** Set at the end of a run when the cluster it brought up no longer runs (removed or stopped meanwhile, e.g. by `kspawn down --force`): what the deployer says of it. */
  clusterGone?: string
  /** What a removal cut short by a second interrupt left (Command.leftIfCut), each with how to remove it; the summary says so. */
  leftBehind?: string[]
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
  /** True when builds take what they can from the build cache and keep what they make in it; false with --no-cache. */
  cache?: boolean
  /** The `--config <file>` of the command line, if any: kspawn commands the run prints name it too, so that they work when pasted where it ran. */
  configArgs?: string[]
}

/** `kspawn down <cluster>` as it can be pasted where the run was started (with --force for a cluster kspawn did not make). */
export function kspawnDownCommand(run: Pick<RunInfo, 'configArgs'>, cluster: string, force = false): string {
  return formatCommandLine(['kspawn', 'down', cluster, ...(force ? ['--force'] : []), ...(run.configArgs ?? [])])
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

/** kspawn's own tasks; a deployer's steps have ids of their own (kube-spawn: build, image, use-image). */
export type TaskId = 'fetch-source' | 'cluster-up' | 'smoke-test' | 'share-image'

export interface Task {
  /** What `kspawn task <id>` takes: lowercase words joined by `-`, e.g. `fetch-source`. */
  id: TaskId | (string & {})
  /** One line for `kspawn list`, e.g. "build/run.sh make in the variant's worktree". */
  description: string
  title(ctx: TaskContext): string
  /** A reason to skip (e.g. "image variant: nothing to build"), or false to run. */
  skip?(ctx: TaskContext, services: Services): string | false | Promise<string | false>
  run(ctx: TaskContext, services: Services): Promise<void>
  /**
   * For a task an earlier run finished, that --resume would skip: why it must
   * run again (what it made is gone, e.g. `cluster web is gone`), or
   * undefined when what it made is still there. Reads only.
   */
  stillDone?(ctx: TaskContext, services: Services): Promise<string | undefined>
  /**
   * What the task needs that can be checked before the run's first command
   * (a setting, a folder), as one sentence per problem naming what to do;
   * the run is refused with all of them (exit 2) when any is found. Reads only.
   */
  preflight?(config: Config, variant: Variant): Promise<string[]>
  /** Undo what run() made when it fails half-way (e.g. a half-created cluster). */
  rollback?(ctx: TaskContext, services: Services): Promise<void>
  /** Whether rollback has anything to undo; when false, it is not run (nor announced). True by default. */
  leftBehind?(ctx: TaskContext): boolean
}

/** In a workflow's tasks, where the steps of the variant's deployer go: those that make what its cluster runs (Deployer.steps). */
export const deployerSteps = { deployerSteps: true } as const

export type WorkflowTask = Task | typeof deployerSteps

export interface Workflow {
  id: string
  description: string
  /** Run in order for each variant; variants run concurrently. */
  tasks: WorkflowTask[]
}

/** The tasks a workflow runs for one variant: its deployer's steps in their place. */
export async function tasksFor(workflow: Workflow, variant: Variant): Promise<Task[]> {
  const tasks: Task[] = []
  for (const task of workflow.tasks) tasks.push(...('deployerSteps' in task ? await variant.deployer.steps() : [task]))
  return tasks
}
