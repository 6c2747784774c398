// `kspawn list`: the workflows and their tasks, the tasks, and the config's
// variants with where each comes from, its image tag and its cluster.
import path from 'node:path'
import type { GitRef, Source, Variant } from '../engine/config/config.ts'
import type { Task } from '../engine/run/task.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'

export interface ListCommandOptions {
  /** --config */
  config?: string
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
