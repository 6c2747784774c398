// `kspawn list`: the workflows and their tasks, the tasks, and the config's
// variants with where each comes from, its image tag and its cluster.
import path from 'node:path'
import type { GitRef, Source, Variant } from '../engine/config/config.ts'
import type { Task } from '../engine/run/task.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'

export interface ListCommandOptions {
  /** --config */
  config?: string
  /** --json: one JSON document on stdout (ListJson), instead of the text. */
  json?: boolean
}

/** `kspawn list --json`, a stable interface: docs/cli.md describes it; a change that breaks a reader raises `version`. */
export interface ListJson {
  version: 1
  /** The config file, absolute. */
  config: string
  workflows: { id: string; description: string; tasks: WorkflowTaskJson[] }[]
  /** kspawn's own tasks (kspawn task <id>). */
  tasks: TaskJson[]
  /** Each deployer the config's variants run on, with the steps that make their images (also tasks). */
  deployers: { name: string; steps: TaskJson[] }[]
  variants: VariantJson[]
}

export interface TaskJson {
  id: string
  description: string
}

/** A task of a workflow, or the place where each variant's deployer's steps run. */
export type WorkflowTaskJson = { id: string } | { deployerSteps: Record<string, string[]> }

export interface VariantJson {
  name: string
  /** What kspawn builds (builds: true), or where a variant's image was built from, when the config says; else null. */
  source: SourceJson | null
  /** True when kspawn builds the variant from its source; false when it pulls `image`. */
  builds: boolean
  /** The image pulled for the variant, as the config names it; null when kspawn builds it. */
  image: string | null
  tag: string
  cluster: string
  /** The deployer its cluster runs on. */
  deployer: string
}

export interface SourceJson {
  remote: string
  branch?: string
  tag?: string
  commit?: string
}

export async function listCommand(options: ListCommandOptions, deps: CliDeps): Promise<number> {
  const registry = await deps.loadRegistry()
  const config = await loadConfigFor(deps, options.config)
  const lines: string[] = []

  // Each deployer the config's variants run on, with the steps it makes their images with.
  const deployers: { name: string; steps: readonly Task[] }[] = []
  for (const variant of config.variants) {
    if (deployers.some((known) => known.name === variant.deployer.name)) continue
    deployers.push({ name: variant.deployer.name, steps: await variant.deployer.steps() })
  }
  if (options.json) {
    const document: ListJson = {
      version: 1,
      config: config.file,
      workflows: registry.workflows.map((workflow) => ({
        id: workflow.id,
        description: workflow.description,
        tasks: workflow.tasks.map((task) => ('deployerSteps' in task ? { deployerSteps: Object.fromEntries(deployers.map(({ name, steps }) => [name, steps.map((step) => step.id)])) } : { id: task.id })),
      })),
      tasks: registry.tasks.map(taskJson),
      deployers: deployers.map(({ name, steps }) => ({ name, steps: steps.map(taskJson) })),
      variants: config.variants.map((variant) => ({
        name: variant.name,
        source: variant.build ? sourceJson(variant.build) : variant.source ? sourceJson(variant.source) : null,
        builds: variant.build !== undefined,
        image: variant.build ? null : variant.image.ref,
        tag: variant.tag,
        cluster: variant.cluster,
        deployer: variant.deployer.name,
      })),
    }
    deps.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
    return 0
  }
  const stepsShown = deployers.length === 1 ? deployers[0]!.steps.map((task) => task.id).join(' → ') : `[${deployers.map(({ name, steps }) => `${name}: ${steps.map((task) => task.id).join(' → ')}`).join(' | ')}]`

  lines.push('Workflows:')
  const workflowWidth = width(registry.workflows.map((workflow) => workflow.id))
  for (const workflow of registry.workflows) {
    lines.push(`  ${workflow.id.padEnd(workflowWidth)}  ${workflow.description}`)
    lines.push(`  ${''.padEnd(workflowWidth)}  ${workflow.tasks.map((task) => ('deployerSteps' in task ? stepsShown : task.id)).join(' → ')}`)
  }

  lines.push('', 'Tasks (kspawn task <task> --variant <variant>):')
  const taskWidth = width([...registry.tasks, ...deployers.flatMap(({ steps }) => steps)].map((task) => task.id))
  for (const task of registry.tasks) lines.push(`  ${task.id.padEnd(taskWidth)}  ${task.description}`)
  for (const { name, steps } of deployers) {
    lines.push(`  Steps of the deployer ${name}, for its variants:`)
    for (const task of steps) lines.push(`  ${task.id.padEnd(taskWidth)}  ${task.description}`)
  }

  lines.push('', `Variants in ${displayPath(config.file, deps.cwd)}:`)
  const variantWidth = width(config.variants.map((variant) => variant.name))
  for (const variant of config.variants) {
    lines.push(`  ${variant.name.padEnd(variantWidth)}  ${origin(variant)}`)
    const deployer = variant.deployer === config.deployer ? '' : ` on ${variant.deployer.name}`
    lines.push(`  ${''.padEnd(variantWidth)}  tag ${variant.tag}, cluster ${variant.cluster}${deployer}`)
  }
  deps.stdout.write(`${lines.join('\n')}\n`)
  return 0
}

function taskJson(task: Task): TaskJson {
  return { id: task.id, description: task.description }
}

function sourceJson(source: Source): SourceJson {
  const ref = source.ref
  return { remote: source.remote, ...('branch' in ref ? { branch: ref.branch } : 'tag' in ref ? { tag: ref.tag } : { commit: ref.commit }) }
}

function origin(variant: Variant): string {
  if (variant.build) return `builds ${describeSource(variant.build)}`
  const from = variant.source ? ` (built from ${describeSource(variant.source)})` : ''
  return `image ${variant.image.ref}${from}`
}

function describeSource(source: Source): string {
  return `${describeRef(source.ref)} of ${source.remote}`
}

function describeRef(ref: GitRef): string {
  if ('branch' in ref) return `branch ${ref.branch}`
  if ('tag' in ref) return `tag ${ref.tag}`
  return `commit ${ref.commit}`
}

function width(names: string[]): number {
  return Math.max(0, ...names.map((name) => name.length))
}

function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}
