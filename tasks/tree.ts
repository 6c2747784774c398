// What every backend's steps ask of a variant's Kubernetes tree: where its
// worktree is, and the version a build of it gets.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { StepError } from '../engine/errors.ts'
import type { StepIO } from '../engine/plugin.ts'
import type { TaskContext } from '../engine/run/task.ts'
import { variantWorktree } from '../engine/run/variant-state.ts'
import { exists } from './docker.ts'
import { gitReader } from './git.ts'
import type { Step } from '../engine/run/step-io.ts'

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


/**
 * A digest of what decides the build besides the tree: the command, and the
 * KUBE_* variables the Kubernetes build reads (hashed, as they may hold secrets).
 */
export function buildFlagsDigest(argv: string[], env: NodeJS.ProcessEnv): string {
  const kube = Object.entries(env)
    .filter(([name, value]) => name.startsWith('KUBE_') && value !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
  return sha256(JSON.stringify({ argv, kube }))
}

/** What a tree is, for telling whether its build is still current. */
export interface TreeState {
  commit: string
  /** `clean`, or `changes:<digest>` of the local changes (tracked and untracked). */
  tree: string
}

/** The commit of the tree and a digest of its local changes, as git sees them (ignored files, such as _output, do not count). */
export async function treeState(worktree: string, step: Step): Promise<TreeState> {
  const git = gitReader(worktree, step)
  const commit = await git.read(['rev-parse', 'HEAD'])
  const status = await git.status()
  if (status.isClean()) return { commit, tree: 'clean' }
  const hash = createHash('sha256').update(await git.read(['diff', 'HEAD', '--binary']))
  for (const file of [...status.not_added].sort()) {
    const content = await readFile(path.join(worktree, file)).catch(() => Buffer.alloc(0))
    hash.update(`\0${file}\0${sha256(content)}`)
  }
  return { commit, tree: `changes:${hash.digest('hex')}` }
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}
