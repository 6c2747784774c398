// The workflows and tasks kspawn knows (workflows/index.ts), and finding one
// by the name typed on the command line.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { UsageError } from '../engine/errors.ts'
import type { Task, Workflow } from '../engine/run/task.ts'

export interface Registry {
  workflows: Workflow[]
  tasks: Task[]
}

/** Imported only by the commands that need it, with the tasks it brings in. */
export async function loadRegistry(): Promise<Registry> {
  // Next to this module: workflows/index.ts in the sources, workflows/index.js once built.
  const extension = path.extname(fileURLToPath(import.meta.url))
  const url = new URL(`../workflows/index${extension}`, import.meta.url)
  const module = (await import(url.href)) as Partial<Registry>
  if (!Array.isArray(module.workflows) || !Array.isArray(module.tasks)) {
    throw new Error(`${fileURLToPath(url)} must export the arrays workflows and tasks`)
  }
  return { workflows: module.workflows, tasks: module.tasks }
}

export function findWorkflow(registry: Registry, id: string): Workflow {
  const workflow = registry.workflows.find((candidate) => candidate.id === id)
  if (workflow) return workflow
  throw new UsageError(workflowProblem(registry, id)!)
}

/** What is wrong with the workflow named on the command line: none named, or an unknown one; undefined when it is known. */
export function workflowProblem(registry: Registry, id: string | undefined): string | undefined {
  const known = registry.workflows.map((workflow) => workflow.id).join(', ')
  if (id === undefined) return `name the workflow to run: one of ${known} (kspawn list shows them)`
  if (registry.workflows.some((workflow) => workflow.id === id)) return undefined
  return `unknown workflow "${id}": the workflows are ${known} (kspawn list shows them)`
}

/** What is wrong with the task named on the command line, among these: none named, or an unknown one; undefined when it is known. */
export function taskProblem(tasks: readonly Task[], id: string | undefined): string | undefined {
  const known = tasks.map((task) => task.id).join(', ')
  if (id === undefined) return `name the task to run: one of ${known} (kspawn list shows them)`
  if (tasks.some((task) => task.id === id)) return undefined
  return `unknown task "${id}": the tasks are ${known} (kspawn list shows them)`
}
