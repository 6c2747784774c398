// What every backend's steps ask of a variant's Kubernetes tree: where its
// worktree is, and the version a build of it gets.
import { StepError } from '../engine/errors.ts'
import type { StepIO } from '../engine/plugin.ts'
import type { TaskContext } from '../engine/run/task.ts'
import { variantWorktree } from '../engine/run/variant-state.ts'
import { exists } from './docker.ts'

/** Prints the version stamp a build of the tree gets (`gitVersion v1.8.5-beta.0.1+c117bd71672b2d-dirty`, ...). */
export function workspaceStatusArgv(): string[] {
  return ['hack/print-workspace-status.sh']
}

/** The `gitVersion` line of hack/print-workspace-status.sh's output. */
export function parseGitVersion(output: string): string | undefined {
  return /^gitVersion[ \t]+(\S+)[ \t]*$/m.exec(output)?.[1]
}

/** The worktree a build variant's tasks work in; it must exist unless nothing runs (dry-run). */
export async function worktreeOf(ctx: TaskContext, step: StepIO): Promise<string> {
  if (!ctx.variant.build) throw new StepError(`variant ${ctx.variant.name} runs the image ${ctx.variant.image.ref}: kspawn builds nothing for it`)
  const worktree = ctx.state.worktree ?? variantWorktree(ctx.config, ctx.variant)
  if (!step.dryRun && !(await exists(worktree))) {
    throw new StepError(`the worktree ${worktree} does not exist: fetch the source first (kspawn task fetch-source --variant ${ctx.variant.name})`)
  }
  return worktree
}

