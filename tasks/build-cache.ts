// The build cache: what a deployer's steps make from a tree (the image its
// clusters run, and for kube-spawn the kubelet and kubeadm it copies into the
// machines) is kept as images in the Docker engine, tagged and labelled by
// a content key: the tree as it is (commit, local changes and untracked
// files; not what git ignores, such as _output), the build's command and the
// KUBE_* variables it reads, the deployer's recipe, the architecture and
// kspawn's own recipe version. Any later build of the same content, by
// another variant, in another workdir or by `kspawn pr`, takes that image
// instead of building; with `cache: { registry }` in the config it is pushed
// there and pulled by other machines. A hit is checked, not assumed: the
// image's labels must carry the key, and what it holds must report the
// gitVersion its label says. Credentials stay Docker's: kspawn only runs
// docker pull and docker push.
import { createHash, randomBytes } from 'node:crypto'
import { arch } from 'node:os'
import { readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { StepError, Interrupted } from '../engine/errors.ts'
import type { TaskContext } from '../engine/run/task.ts'
import type { Step } from '../engine/run/step-io.ts'
import { readRunRecord } from '../engine/run/run-state.ts'
import { gitCommand } from './git.ts'

/** Changed when what kspawn puts in a cache entry changes, so that older entries are no longer hits. */
export const RECIPE_VERSION = 1

/** The labels every cache entry carries. */
export const LABELS = {
  key: 'io.kspawn.build-key',
  gitVersion: 'io.kspawn.git-version',
  builtBy: 'io.kspawn.built-by',
} as const

/** The repository cache entries are tagged under in the local Docker engine: kspawn-cache/<artifact>:<key>. */
export const LOCAL_REPOSITORY = 'kspawn-cache'

/** What the key is made of besides the tree; each part is a string so that the key is stable. */
export interface KeyParts {
  /** The build command(s) as run, e.g. ['build/run.sh', 'make']. */
  argv: string[]
  /** The deployer's recipe: its tool's version, base image, the image recipe, ... */
  recipe: string[]
  /** Environment variables the build reads besides KUBE_*, by name (e.g. ARCH, REGISTRY of the hyperkube Makefile). */
  env?: string[]
}

/** A content key, with the tree id it was made from (for messages). */
export interface BuildKey {
  key: string
  /** The git tree id of the tree as it is, local changes and untracked files included. */
  tree: string
}

/**
 * The git tree of the worktree as it is, untracked files included and
 * ignored ones not: `git add -A` into a copy of the worktree's index (so that
 * unchanged files are not hashed again), then `git write-tree`. The worktree's
 * own index is not touched.
 */
export async function treeId(worktree: string, step: Step): Promise<string> {
  const git = (argv: string[], env: Record<string, string> = {}) => {
    const command = gitCommand(['git', ...argv], worktree)
    return step.run({ ...command, env: { ...command.env, ...env }, reads: true, capture: true })
  }
  const index = path.resolve(worktree, (await git(['rev-parse', '--git-path', 'index'])).stdout?.trim() ?? '')
  // One run at a time has the worktree: a copy left there was left by a run that was killed.
  await removeMatching(path.dirname(index), `${path.basename(index)}.kspawn-`)
  const temporary = `${index}.kspawn-${randomBytes(6).toString('hex')}`
  try {
    await step.run({ argv: ['cp', '--', index, temporary], reads: true })
    await git(['add', '--all'], { GIT_INDEX_FILE: temporary })
    const tree = (await git(['write-tree'], { GIT_INDEX_FILE: temporary })).stdout?.trim() ?? ''
    if (step.dryRun && tree === '') return 'dry-run'
    if (!/^[0-9a-f]{40,64}$/.test(tree)) throw new StepError(`git write-tree (in ${worktree}) printed ${JSON.stringify(tree)}, not a tree id`)
    return tree
  } finally {
    await rm(temporary, { force: true })
  }
}

/** Removes the files of `dir` whose names start with `prefix`: what a killed run left of its temporary files. */
export async function removeMatching(dir: string, prefix: string): Promise<void> {
  const names = await readdir(dir).catch(() => [])
  await Promise.all(names.filter((name) => name.startsWith(prefix)).map((name) => rm(path.join(dir, name), { recursive: true, force: true })))
}

/** The key of a tree's build, from its tree id and what else decides the build. */
export function buildKey(tree: string, parts: KeyParts, env: NodeJS.ProcessEnv = process.env): string {
  const names = (name: string) => name.startsWith('KUBE_') || (parts.env ?? []).includes(name)
  const variables = Object.entries(env)
    .filter(([name, value]) => names(name) && value !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
  const content = { kspawn: RECIPE_VERSION, tree, argv: parts.argv, recipe: parts.recipe, env: variables, arch: arch() }
  return createHash('sha256').update(JSON.stringify(content)).digest('hex')
}

export async function keyOf(worktree: string, parts: KeyParts, step: Step): Promise<BuildKey> {
  const tree = await treeId(worktree, step)
  return { key: buildKey(tree, parts), tree }
}

/** Where an entry is: its tag in the local engine, and in the registry when the config has one and the run uses it. */
export interface CacheRefs {
  local: string
  remote?: string
}

/** How a run uses the cache: the config's registry, unless --no-cache. */
export interface CacheUse {
  /** False with --no-cache, in a dry run, and for a run that does not say (a task run alone in a test): nothing is looked up, nothing pushed. */
  enabled: boolean
  /** `<registry>/<repository>` of the config's `cache`. */
  registry?: string
}

export function cacheUse(ctx: TaskContext): CacheUse {
  // A dry run looks nothing up: what it prints is what a build would run.
  return { enabled: ctx.run.cache === true && !ctx.run.dryRun, ...(ctx.config.cache ? { registry: ctx.config.cache.registry } : {}) }
}

/** In a dry run of a run that uses the cache: says that the build printed is what runs when the cache has no build of the tree. */
export function dryRunNote(ctx: TaskContext, step: Step): void {
  if (ctx.run.dryRun && ctx.run.cache === true) step.info('dry run: the build cache is not looked up; a real run takes this tree\'s build from it instead of building, when it has one')
}

export function cacheRefs(use: CacheUse, artifact: string, key: string): CacheRefs {
  return { local: `${LOCAL_REPOSITORY}/${artifact}:${key}`, ...(use.registry ? { remote: `${use.registry}/${artifact}:${key}` } : {}) }
}

/** A cache entry found for a key, checked. */
export interface Hit {
  /** The local tag of the entry. */
  image: string
  gitVersion: string
  /** Where it came from, for the summary: `reused the build of run X, variant y` or `pulled from the cache <ref> (built by ...)`. */
  from: string
}

/** What checks that an entry holds what its label says: the gitVersion its content reports, or why it cannot. */
export type Reported = (image: string, step: Step) => Promise<{ gitVersion?: string; problem?: string }>

/** An image's labels, or undefined when the engine has no such image. */
export async function imageLabels(image: string, step: Step): Promise<Record<string, string> | undefined> {
  const result = await step.run({ argv: ['docker', 'image', 'inspect', '--format', '{{json .Config.Labels}}', image], reads: true, capture: true, okExitCodes: [0, 1] })
  if (result.exitCode !== 0 || result.dryRun) return undefined
  try {
    return (JSON.parse(result.stdout ?? 'null') as Record<string, string> | null) ?? {}
  } catch {
    return {}
  }
}

/** Why an entry is not the build of `key`, or undefined when it is. */
async function entryProblem(image: string, key: string, reported: Reported, step: Step): Promise<{ problem?: string; labels?: Record<string, string> }> {
  const labels = await imageLabels(image, step)
  if (labels === undefined) return { problem: 'the Docker engine has no such image' }
  if (labels[LABELS.key] !== key) return { problem: `its label ${LABELS.key} is ${labels[LABELS.key] === undefined ? 'missing' : labels[LABELS.key]}, not the key ${key}` }
  const claimed = labels[LABELS.gitVersion]
  if (!claimed) return { problem: `it has no label ${LABELS.gitVersion}` }
  const seen = await reported(image, step)
  if (seen.problem) return { problem: seen.problem }
  if (seen.gitVersion !== claimed) return { problem: `its label says gitVersion ${claimed}, but what it holds reports ${seen.gitVersion ?? 'none'}` }
  return { labels }
}

function builtBy(labels: Record<string, string> | undefined): string {
  return labels?.[LABELS.builtBy] ?? 'an unknown run'
}

/**
 * The entry for `key` in the local engine, checked; or undefined. An entry
 * that fails the check is untagged (it cannot serve) with a warning.
 */
export async function findLocal(refs: CacheRefs, key: string, reported: Reported, step: Step): Promise<Hit | undefined> {
  if ((await imageLabels(refs.local, step)) === undefined) return undefined
  const { problem, labels } = await entryProblem(refs.local, key, reported, step)
  if (problem) {
    step.warn(`the cached build ${refs.local} is not the build of this tree (${problem}): removing its tag and building`)
    await step.run({ argv: ['docker', 'image', 'rm', refs.local], okExitCodes: [0, 1] })
    return undefined
  }
  return { image: refs.local, gitVersion: labels![LABELS.gitVersion]!, from: `reused the build of ${builtBy(labels)} (${shortRef(refs.local)})` }
}

/**
 * The entry for `key` pulled from the registry, checked and tagged locally;
 * undefined when the registry has none, does not answer or holds a wrong one
 * (a warning then: the run builds instead and never fails for the cache).
 */
export async function pull(refs: CacheRefs, key: string, reported: Reported, step: Step): Promise<Hit | undefined> {
  const remote = refs.remote
  if (remote === undefined) return undefined
  const result = await step.run({ argv: ['docker', 'pull', remote], okExitCodes: [0, 1] })
  if (result.dryRun) return undefined
  if (result.exitCode !== 0) {
    const said = result.tail.filter((line) => line.trim() !== '').slice(-1)[0] ?? `exit code ${result.exitCode}`
    if (/manifest unknown|not found|does not exist/i.test(said)) {
      step.info(`the build cache has no build of this tree (${shortRef(remote)})`)
    } else {
      step.warn(`the build cache ${registryOf(remote)} could not be read (${said.trim()}): building instead`)
    }
    return undefined
  }
  const { problem, labels } = await entryProblem(remote, key, reported, step)
  if (problem) {
    step.warn(`the build cache's ${shortRef(remote)} is not the build of this tree (${problem}): rejected; building it, and the new build replaces it in the cache`)
    await step.run({ argv: ['docker', 'image', 'rm', remote], okExitCodes: [0, 1] })
    return undefined
  }
  // Kept under its local name only, as a build here would be: the registry's name is for pulling and pushing.
  await step.run({ argv: ['docker', 'tag', remote, refs.local] })
  await step.run({ argv: ['docker', 'image', 'rm', remote], okExitCodes: [0, 1] })
  return { image: refs.local, gitVersion: labels![LABELS.gitVersion]!, from: `pulled from the cache ${shortRef(remote)} (built by ${builtBy(labels)})` }
}

/**
 * Makes the entry for `key` from what the steps built: the image `from`
 * with kspawn's labels (and `files` copied into it under /kspawn/bin),
 * tagged as the local entry and as each of `alsoTag`. False, with a
 * warning, when the engine could not make it: the run goes on without it.
 */
export async function makeEntry(
  options: { from: string; refs: CacheRefs; key: string; gitVersion: string; builtBy: string; files?: { dir: string; names: string[] }; alsoTag: string[] },
  step: Step,
): Promise<boolean> {
  const { from, refs, key, gitVersion, files } = options
  const dockerfile = [`FROM ${from}`, ...(files ? [`COPY ${files.names.join(' ')} ${ENTRY_BIN}/`] : [])].join('\n') + '\n'
  const labels = [
    [LABELS.key, key],
    [LABELS.gitVersion, gitVersion],
    [LABELS.builtBy, options.builtBy],
  ].flatMap(([name, value]) => ['--label', `${name}=${value}`])
  const tags = [refs.local, ...options.alsoTag].flatMap((tag) => ['--tag', tag])
  // The Dockerfile on stdin; the context is the folder of the files, or none at all.
  const context = files ? ['--file', '-', files.dir] : ['-']
  const result = await step.run({ argv: ['docker', 'build', ...labels, ...tags, ...context], stdin: dockerfile, okExitCodes: [0, 1] })
  if (result.exitCode === 0) return true
  const said = result.tail.filter((line) => line.trim() !== '').slice(-1)[0] ?? `exit code ${result.exitCode}`
  step.warn(`could not keep the build in the cache (${result.commandLine} said: ${said.trim()}): the run goes on with ${from}, and the next build of this tree builds again`)
  return false
}

/** Where a kube-spawn entry holds the binaries the machines get. */
export const ENTRY_BIN = '/kspawn/bin'

/**
 * Pushes the entry to the registry, when the run uses one. A registry that
 * refuses or does not answer is a warning: the run goes on.
 */
export async function push(refs: CacheRefs, step: Step): Promise<string | undefined> {
  if (refs.remote === undefined) return undefined
  await step.run({ argv: ['docker', 'tag', refs.local, refs.remote] })
  const result = await step.run({ argv: ['docker', 'push', refs.remote], okExitCodes: [0, 1] })
  if (result.dryRun) return undefined
  if (result.exitCode !== 0) {
    const said = result.tail.filter((line) => line.trim() !== '').slice(-1)[0] ?? `exit code ${result.exitCode}`
    step.warn(`could not push the build to the cache ${registryOf(refs.remote)} (${said.trim()}): the run goes on; the next run elsewhere builds it`)
    return undefined
  }
  step.info(`pushed the build to the cache: ${refs.remote}`)
  return refs.remote
}

/** The summary's words for a build an earlier run left in the worktree, from its stamp: `already in this worktree (pulled from the cache ...)`. */
export function earlierBuild(from: string | undefined): string {
  return from === undefined ? 'already in this worktree, from an earlier run' : `already in this worktree (${from})`
}

/** `run <id>, variant <name>`: what an entry's built-by label says. */
export function builtByLabel(ctx: TaskContext): string {
  return `run ${ctx.run.id}, variant ${ctx.variant.name}`
}

/** A reference with its 64-digit key cut to 12, for messages. */
export function shortRef(ref: string): string {
  return ref.replace(/:([0-9a-f]{12})[0-9a-f]{52}$/, ':$1…')
}

function registryOf(ref: string): string {
  return ref.split('/')[0] ?? ref
}

/** Variants of this process building each key, by run and key: the first builds, the others wait for it. */
const claims = new Map<string, string>()

/** How often a variant waiting for another's build of the same tree looks again. */
const WAIT_INTERVAL_MS = 2000

/**
 * When another variant of this run already builds the same key, waits until
 * its entry is in the engine (and returns it), or until that variant stops
 * making it (and returns undefined: build). Otherwise claims the key.
 * `steps` are the ids of the steps that make the entry, the last one making it.
 */
export async function waitForSameBuild(ctx: TaskContext, key: string, steps: string[], lookup: () => Promise<Hit | undefined>, step: Step): Promise<Hit | undefined> {
  const claim = `${ctx.run.id}\0${key}`
  const builder = claims.get(claim)
  if (builder === undefined || builder === ctx.variant.name || ctx.run.dryRun) {
    claims.set(claim, ctx.variant.name)
    return undefined
  }
  step.info(`variant ${builder} is building the same tree (key ${key.slice(0, 12)}): waiting for its build rather than building it twice`)
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, WAIT_INTERVAL_MS))
    if (step.signal.aborted) throw new Interrupted(`the run was interrupted while variant ${ctx.variant.name} waited for the build of variant ${builder}`)
    // The run's state.json says when the builder is done with the steps that make the entry; the engine is asked only then.
    const record = await readRunRecord(ctx.run.dir)
    const entry = record?.variants.find((candidate) => candidate.name === builder)
    const tasks = entry?.tasks.filter((task) => steps.includes(task.id)) ?? []
    const last = tasks.find((task) => task.id === steps[steps.length - 1])
    const stopped = entry === undefined || entry.status !== 'running' || tasks.some((task) => task.status === 'failed' || task.status === 'interrupted') || last?.status === 'done' || last?.status === 'skipped'
    if (stopped) {
      const hit = await lookup()
      if (hit) return hit
      step.info(`variant ${builder} did not make the build of this tree: building it here`)
      claims.set(claim, ctx.variant.name)
      return undefined
    }
  }
}

/**
 * The build of `key`, if one can be had without building: in the local
 * engine, in the registry, or from another variant of this run building the
 * same tree (waited for). Undefined: build it (the key is then claimed).
 */
export async function findBuild(ctx: TaskContext, refs: CacheRefs, key: string, options: { steps: string[]; reported: Reported }, step: Step): Promise<Hit | undefined> {
  const local = () => findLocal(refs, key, options.reported, step)
  return (await local()) ?? (await pull(refs, key, options.reported, step)) ?? (await waitForSameBuild(ctx, key, options.steps, local, step))
}
