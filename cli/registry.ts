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
  throw new UsageError(`unknown workflow "${id}": the workflows are ${registry.workflows.map((known) => known.id).join(', ')} (kspawn list shows them)`)
}

export function findTask(registry: Registry, id: string): Task {
  const task = registry.tasks.find((candidate) => candidate.id === id)
  if (task) return task
  throw new UsageError(`unknown task "${id}": the tasks are ${registry.tasks.map((known) => known.id).join(', ')} (kspawn list shows them)`)
}
