// The interfaces behind which backends plug in. A config holds plugin values
// returned by factories such as `kubeSpawn()`; each value names its kind and
// plugin, and carries its own settings as its own fields. The behaviour (a
// deployer's up and down; a tester's run) is in methods on the value's
// prototype, so the engine validates plugin values by their fields and keeps
// the object the factory returned.
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ZodType } from 'zod'
import type { Command, CommandResult } from './runner/runner.ts'
import type { Variant } from './config/config.ts'
import type { SmokeResult, Task, TaskContext } from './run/task.ts'

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

/** What a variant's cluster runs, as its deployer made or adopted it: the value that up() takes. */
export interface ClusterImage {
  /** The image in the local Docker engine, e.g. `gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-denyattach`. */
  image: string
  /** Its tag. */
  tag: string
  /** What the control plane runs and where it came from, for the summary, e.g. `<image>, pulled from <ref>`. */
  controlPlane: string
  /** The Kubernetes build the machines take kubeadm and kubelet from, when not from the image. */
  binaries?: { dir: string; gitVersion: string; from: string }
  /** What only this deployer's up() reads, e.g. kube-spawn's $GOPATH. */
  data?: Readonly<Record<string, string>>
}

/** One variant's cluster, as a deployer is asked to bring it up. */
export interface ClusterSpec {
  /** e.g. `denyattach` */
  name: string
  image: ClusterImage
}

/** Whether a cluster's machines run, as the deployer's own files and the machine manager say. */
export type ClusterState = 'running' | 'stopped' | 'partly running' | 'gone'

export interface ClusterStatus {
  state: ClusterState
  /** The cluster's machines, running or not; none when it is gone. */
  machines: string[]
  /** Those of its machines that run. */
  running: string[]
  /** The tag of the image it runs, when the deployer's files say. */
  tag?: string
}

/** Creates, inspects and removes the clusters that variants run on. */
export interface Deployer extends Plugin {
  readonly kind: 'deployer'
  readonly options: object
  /**
   * The steps that make what its clusters run, from a variant's fetched
   * source tree or from its external image (kubetest2's Build()): the dev
   * loop runs them between fetch-source and cluster-up, each with its own
   * log, and `kspawn task <id> --variant <name>` runs one alone. Loaded when
   * a run needs them, so that a config stays cheap to load.
   */
  steps(): Promise<readonly Task[]>
  /** The local image a variant's cluster runs, as the steps name it, e.g. gcr.io/google-containers/hyperkube-amd64:<tag>. */
  image(variant: Variant): string
  /**
   * This deployer with the defaults that depend on the config settled, e.g.
   * kind's kubeconfigs under the workdir; called when a config is loaded.
   * Its options then say where everything is, as cluster records keep them.
   */
  inWorkdir?(workdir: string): Deployer
  /** The repository name `share` pushes its images under: <share.repository>/<shareName>:<tag>. */
  readonly shareName: string
  /**
   * What the variant's cluster will run, from what the steps made (the
   * variant's state): checked to be there, or a StepError naming the step to
   * run. Reads only, so it runs in dry-run too.
   */
  prepare(ctx: TaskContext, io: StepIO & { readonly signal: AbortSignal }): Promise<ClusterImage>
  /** Where a cluster's kubeconfig is once it is up. */
  kubeconfig(cluster: string): string
  /** Seconds the nodes of a cluster that is up get to turn Ready. */
  readySeconds(): number
  /** Whether a cluster of that name exists, up or not. Reads only, so it runs in dry-run too. */
  exists(cluster: string, io: StepIO): Promise<boolean>
  /** Every cluster the deployer has, whoever made it, by name. Reads only. */
  clusters(io: StepIO): Promise<string[]>
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
  /**
   * How a user has the API server of this deployer's clusters enable an
   * admission plugin that is not on by default, for a smoke test's message:
   * e.g. `add 'DenyAttach' to kind({ admissionPlugins }) in kspawn.config.ts`.
   * Absent when the deployer has no setting for it.
   */
  enableAdmissionPlugin?(plugin: string, where: { configFile: string; variant: string }): string
}

/** The cluster a smoke test runs against. */
export interface SmokeTarget {
  cluster: string
  kubeconfig: string
  /** Names the test's own objects (pods) so that runs never collide. */
  runId: string
  /** The deployer's words for enabling an admission plugin of the API server (see Deployer.enableAdmissionPlugin); absent when it has none. */
  enableAdmissionPlugin?: (plugin: string) => string
}

/** A smoke test run against a variant's cluster once it is up. */
export interface Tester extends Plugin {
  readonly kind: 'tester'
  /** What the test expects, e.g. `attach is denied with /rejected by admission controller/`. */
  describe(): string
  /** Runs the test; each expectation passed or failed with what was seen. In dry-run it prints its commands and judges nothing. */
  run(target: SmokeTarget, io: StepIO): Promise<SmokeResult[]>
}

/**
 * What kspawn knows of a plugin without running it: one per plugin, in the
 * plugin's folder (plugins/<name>/plugin.ts). plugins/index.ts lists the
 * built-in ones; a config adds its own with `plugins: [...]`.
 */
export interface PluginDefinition {
  readonly kind: 'deployer' | 'tester'
  /** What its values are named, e.g. `kube-spawn`; unique among the plugins of a kind. */
  readonly name: string
  /** The module configs import its factory from, e.g. `kspawn/plugins/kube-spawn`. */
  readonly module: string
  /** That module's file, when kspawn ships it: a config importing `module` gets this very file. */
  readonly file?: string
  /** How a config makes a value, for messages, e.g. `kubeSpawn()`. */
  readonly example: string
  /**
   * The schema of a value of this plugin (kind, name and its own fields), in
   * the words of engine/config/schema-kit.ts. Loaded only when a config that
   * uses the plugin is checked, so that a config stays cheap to load.
   */
  schema(): ZodType | Promise<ZodType>
  /** The value, with its behaviour, from plain data that the schema accepted (a config that calls no factory). */
  revive(data: Record<string, unknown>): Plugin
  /** What `kspawn doctor` checks for a config that uses it. */
  readonly doctor?: DoctorNeeds
  /** A deployer's own rule on cluster names, on top of kspawn's (a lowercase DNS label of up to 63 characters). */
  readonly clusterName?: ClusterNameRule
}

export interface DoctorNeeds {
  /** Programs it runs, in the order doctor lists them. */
  tools?: ToolNeed[]
  /** Why it runs commands through sudo when kspawn is not root, e.g. `to run kube-spawn as root (sudo -E)`; doctor then checks sudo. */
  sudo?: string
  /** Versions of its tools it needs, checked once the tool is found. */
  versions?: VersionNeed[]
}

export interface VersionNeed {
  /** The tool, one of `tools`. */
  tool: string
  /** What prints its version, e.g. ['kind', 'version']; the tool's name is replaced by where it was found. */
  argv: string[]
  /** The version in what it printed, as dotted numbers, e.g. `0.32.0`. */
  parse(output: string): string | undefined
  /** The oldest version that works. */
  atLeast: string
  /** What the older ones lack, e.g. `kind build node-image takes the tree as its argument since v0.26.0`. */
  why: string
}

export interface ToolNeed {
  /** The program, as looked up in PATH. */
  name: string
  /** What it is for, e.g. `to create and start a cluster for each variant`. */
  purpose: string
  /** How to get it; `sudo` is `sudo ` for a user who is not root, empty for root. */
  install(sudo: string): string
  /** Needed only when a variant is built from source. */
  forBuilds?: boolean
}

export interface ClusterNameRule {
  /** What a valid name is, completing "expected a cluster name (…)", e.g. `a lowercase DNS label not ending in a digit`. */
  what: string
  /** Why a name that kspawn's own rule accepts is invalid here, or undefined. */
  problem(name: string): string | undefined
}

/** A plugin definition, typed: the identity function, so that plugin.ts files get checking and completion. */
export function definePlugin(definition: PluginDefinition): PluginDefinition {
  return definition
}

/**
 * The file of a module next to the calling one (`import.meta.url`), with the
 * caller's own extension: `.ts` in the sources, `.js` once built.
 */
export function moduleNextTo(url: string, name: string): string {
  return fileURLToPath(new URL(`./${name}${extname(fileURLToPath(url))}`, url))
}
