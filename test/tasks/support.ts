// What the task tests share: the test world's environment, a user checkout of
// their own (a clone of the world's upstream, so the shared one is never
// touched), a config and a run around it, and running a task the way the
// pipeline does (skip, run, rollback on failure) while keeping its events.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Test } from '../suite.ts'

export { groundwork } from '../suite.ts'
import { loadPlugins, parseConfig } from '../../engine/config/config-schema.ts'
import { builtinPlugins } from '../../plugins/index.ts'

const plugins = await loadPlugins(builtinPlugins)
import type { Config, UserVariant } from '../../engine/config/config.ts'
import type { KspawnEvent } from '../../engine/run/events.ts'
import type { Tester } from '../../engine/plugin.ts'
import { createRunner } from '../../engine/runner/runner.ts'
import { tasksFor, type Services, type Task, type TaskContext, type Workflow } from '../../engine/run/task.ts'
import { initialVariantState } from '../../engine/run/variant-state.ts'
import { kubeSpawn } from '../../plugins/kube-spawn/index.ts'
import { HYPERKUBE, must, sh, world, type World } from '../world/harness.ts'

export { branches, HYPERKUBE, messages, must, sh } from '../world/harness.ts'

/**
 * Gives the suite's commands the world's environment (its Docker engine, the
 * kube-spawn stand-in first on PATH) while it runs, and puts kspawn's own back after.
 */
export function inWorld(test: Test): void {
  let saved: NodeJS.ProcessEnv | undefined
  test.before(() => {
    const env = world()
    saved = { ...process.env }
    Object.assign(process.env, env)
  })
  test.after(() => {
    if (!saved) return
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
    Object.assign(process.env, saved)
  })
}

export function theWorld(): World {
  return world()
}

/** A name no other test or run uses, valid as a cluster name and an image tag: it ends in a letter. */
export function uniqueName(suffix: string): string {
  return `kt-${randomBytes(3).toString('hex')}-${suffix}`
}

export interface Playground {
  root: string
  /** The user's $GOPATH/src/k8s.io/kubernetes: a clone of the world's upstream, on master. */
  checkout: string
  /** Where the config's workdir (.kspawn) is. */
  workdir: string
  remove(): Promise<void>
}

export async function playground(): Promise<Playground> {
  const root = await mkdtemp(path.join(tmpdir(), 'kspawn-tasks-'))
  const checkout = path.join(root, 'gopath', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  return { root, checkout, workdir: path.join(root, '.kspawn'), remove: () => rm(root, { recursive: true, force: true }) }
}

/** A config as loaded from <root>/kspawn.config.ts, deploying with kube-spawn into the world's kube-spawn dir. */
export function configFor(place: Playground, variants: Record<string, UserVariant>, smoke: Tester[] = []): Config {
  const input = {
    kubernetes: { checkout: place.checkout },
    deployer: kubeSpawn({ dir: world().KSPAWN_WORLD_KUBE_SPAWN_DIR }),
    variants,
    smoke,
  }
  return parseConfig(input, { plugins, file: path.join(place.root, 'kspawn.config.ts') })
}

export interface Run {
  ctx: TaskContext
  services: Services
  events: KspawnEvent[]
  /** Command lines in the order they were run, or printed in dry-run. */
  commands(): string[]
  /** Command lines that dry-run printed instead of running. */
  printed(): string[]
  messages(kind: 'info' | 'warn'): string[]
}

/** A run of one variant: a real runner, logs under <root>/runs/<id>. */
export function runOf(config: Config, variantName: string, options: { dryRun?: boolean; recreate?: boolean; root: string }): Run {
  const variant = config.variants.find((candidate) => candidate.name === variantName)
  if (!variant) throw new Error(`no variant ${variantName}`)
  const events: KspawnEvent[] = []
  const emit = (event: KspawnEvent) => void events.push(event)
  const dryRun = options.dryRun ?? false
  const id = randomBytes(4).toString('hex')
  const dir = path.join(options.root, 'runs', id)
  const runner = createRunner({ runDir: dir, dryRun, emit, isRoot: process.getuid?.() === 0 })
  const services: Services = { runner, emit, isRoot: process.getuid?.() === 0, signal: new AbortController().signal }
  const ctx: TaskContext = { config, variant, state: initialVariantState(config, variant), run: { id, dir, dryRun, recreate: options.recreate ?? false } }
  const commands = (dry: boolean | undefined) =>
    events.flatMap((event) => (event.kind === 'cmd' && (dry === undefined || event.dryRun === dry) ? [event.commandLine] : []))
  return {
    ctx,
    services,
    events,
    commands: () => commands(undefined),
    printed: () => commands(true),
    messages: (kind) => events.flatMap((event) => (event.kind === kind ? [event.message] : [])),
  }
}

export interface Outcome {
  skipped?: string
  error?: unknown
}

/** As the pipeline runs a step: skip, else run, and roll back when run fails. */
export async function runTask(task: Task, run: Run): Promise<Outcome> {
  const skipped = await task.skip?.(run.ctx, run.services)
  if (skipped) return { skipped }
  try {
    await task.run(run.ctx, run.services)
    return {}
  } catch (error) {
    await task.rollback?.(run.ctx, run.services)
    return { error }
  }
}

/** Runs the workflow's tasks in order until one fails; the failing task's id and error. */
export async function runWorkflowTasks(workflow: Workflow, run: Run): Promise<{ failed?: string; error?: unknown; skipped: Record<string, string> }> {
  const skipped: Record<string, string> = {}
  for (const task of await tasksFor(workflow, run.ctx.variant)) {
    const outcome = await runTask(task, run)
    if (outcome.skipped) skipped[task.id] = outcome.skipped
    if (outcome.error !== undefined) return { failed: task.id, error: outcome.error, skipped }
  }
  return { skipped }
}

/** Fails with the task's own message when it failed: better than "expected undefined". */
export function mustPass(outcome: Outcome, what: string): void {
  if (outcome.error !== undefined) throw new Error(`${what} failed: ${(outcome.error as Error).message}`)
}

/** Stops and destroys a test's cluster, and removes its images, whatever state they are in. */
export async function removeCluster(cluster: string): Promise<void> {
  const dir = world().KSPAWN_WORLD_KUBE_SPAWN_DIR
  await sh(['kube-spawn', '-d', dir, 'stop', '-c', cluster])
  await sh(['kube-spawn', '-d', dir, 'destroy', '-c', cluster])
  await rm(path.join(dir, cluster), { recursive: true, force: true })
}

export async function removeImages(tags: string[]): Promise<void> {
  if (tags.length > 0) await sh(['docker', 'rmi', '--force', ...tags.map((tag) => `${HYPERKUBE}:${tag}`)])
}

/** The running kube-spawn machines (docker containers) of a cluster. */
export async function machinesOf(cluster: string): Promise<string[]> {
  const result = await sh(['docker', 'ps', '-a', '--filter', `label=kube-spawn.world/cluster=${cluster}`, '--format', '{{.Names}}'])
  return result.stdout.split('\n').filter(Boolean)
}
