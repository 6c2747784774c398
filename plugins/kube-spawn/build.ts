// build: the article's `build/run.sh make`, in the variant's worktree. A
// stamp in _output records what was built (commit, local changes, flags); a
// build of the same tree with the same flags is not done again.
import { readJsonFile, writeJsonFile } from '../../engine/json-file.ts'
import { rm } from 'node:fs/promises'
import { exists, localImageId, tagArgv } from '../../tasks/docker.ts'
import { cacheUse, dryRunNote, earlierBuild, findBuild, findLocal, keyOf, pull, shortRef } from '../../tasks/build-cache.ts'
import { binariesRefsFor, keyParts, labelled, refsFor, reported, restoreBinaries } from './cache.ts'
import { hyperkubeImage, writeImageStamp } from './image.ts'
import { buildFlagsDigest, parseGitVersion, treeState, workspaceStatusArgv, worktreeOf, type TreeState } from '../../tasks/tree.ts'

export { parseGitVersion, workspaceStatusArgv, worktreeOf }
import path from 'node:path'
import { StepError } from '../../engine/errors.ts'
import type { Task, TaskContext } from '../../engine/run/task.ts'
import { variantWorktree } from '../../engine/run/variant-state.ts'
import { openStep, type Step } from '../../engine/run/step-io.ts'

/** Where `build/run.sh make` puts the binaries, relative to the tree; kube-spawn --dev copies them from there. */
export const BUILD_OUTPUT = path.join('_output', 'dockerized', 'bin', 'linux', 'amd64')

/** What a complete build has: the image's hyperkube, and what kube-spawn copies into the machines. */
export const ARTIFACTS = ['hyperkube', 'kubelet', 'kubeadm', 'kubectl']

/** In _output, so that removing the build output removes the stamp with it. */
const STAMP_FILE = path.join('_output', 'kspawn-build.json')

export function buildArgv(): string[] {
  return ['build/run.sh', 'make']
}

export interface BuildStamp extends TreeState {
  flags: string
  gitVersion: string
  /** ISO date; also tells one build of a tree from the next (see the image task). */
  builtAt: string
  /** The tree's key in the build cache, when the run used the cache: the image step keeps the build under it. */
  key?: string
  /** Where the build came from, for the summary: `built in run <id>`, or the cache entry it was taken from. */
  from?: string
}

export const build: Task = {
  id: 'build',
  description: "build/run.sh make in the variant's worktree (skipped when that tree was built with the same flags)",
  title: (ctx) => (ctx.variant.build ? 'Build Kubernetes: build/run.sh make' : 'Build Kubernetes'),
  async skip(ctx, services) {
    if (!ctx.variant.build) return `image variant: it runs ${ctx.variant.image.ref}, there is nothing to build`
    const worktree = ctx.state.worktree ?? variantWorktree(ctx.config, ctx.variant)
    if (!(await exists(worktree))) return false
    const stamp = await readBuildStamp(worktree)
    if (!stamp || !(await hasArtifacts(worktree))) return false
    const now = await treeState(worktree, openStep('build', ctx, services))
    if (stamp.commit !== now.commit || stamp.tree !== now.tree || stamp.flags !== buildFlagsDigest(buildArgv(), process.env)) return false
    ctx.state.gitVersion = stamp.gitVersion
    ctx.state.built = earlierBuild(stamp.from)
    const tree = now.tree === 'clean' ? 'clean tree' : 'the same local changes'
    return `already built: ${now.commit.slice(0, 12)} (${tree}) with the same flags, gitVersion ${stamp.gitVersion}; remove ${path.join(worktree, STAMP_FILE)} to build again`
  },
  async stillDone(ctx) {
    const worktree = ctx.state.worktree
    if (worktree === undefined) return undefined
    const missing = []
    for (const artifact of ARTIFACTS) if (!(await exists(path.join(worktree, BUILD_OUTPUT, artifact)))) missing.push(artifact)
    return missing.length === 0 ? undefined : `${path.join(worktree, BUILD_OUTPUT)} no longer has ${missing.join(', ')}`
  },
  async run(ctx, services) {
    const step = openStep('build', ctx, services)
    const worktree = await worktreeOf(ctx, step)
    // Removed first: a build that fails half-way leaves a mix of old and new binaries, which no stamp may vouch for.
    if (!step.dryRun) await rm(path.join(worktree, STAMP_FILE), { force: true })
    const before = step.dryRun ? undefined : await treeState(worktree, step)
    dryRunNote(ctx, step)
    const key = cacheUse(ctx).enabled ? (await keyOf(worktree, keyParts(buildArgv()), step)).key : undefined
    if (key !== undefined && (await fromCache(ctx, worktree, key, before, step))) return
    await step.run({ argv: buildArgv(), cwd: worktree })
    if (!before) return

    const status = await step.run({ argv: workspaceStatusArgv(), cwd: worktree, reads: true, capture: true })
    const gitVersion = parseGitVersion(status.stdout ?? '')
    if (!gitVersion) {
      throw new StepError(`${status.commandLine} (in ${worktree}) printed no gitVersion line, so kspawn cannot tell which version it built:\n${indent(status.tail.slice(-10))}`)
    }
    ctx.state.gitVersion = gitVersion
    ctx.state.built = `built in this run (${ctx.run.id})`
    await writeBuildStamp(worktree, { ...before, flags: buildFlagsDigest(buildArgv(), process.env), gitVersion, builtAt: new Date().toISOString(), from: `built in run ${ctx.run.id}`, ...(key ? { key } : {}) })
    step.info(`built ${gitVersion} in ${worktree}`)
  },
}

/**
 * The build of the tree from the cache, when it has one that checks out:
 * the binaries put into the worktree's build output, the image tagged as the
 * variant's, and both stamps written as a build and image step would.
 */
async function fromCache(ctx: TaskContext, worktree: string, key: string, before: TreeState | undefined, step: Step): Promise<boolean> {
  const hit = await findBuild(ctx, refsFor(ctx, key), key, { steps: ['build', 'image'], reported }, step)
  if (hit === undefined || before === undefined) return false
  const binariesRefs = binariesRefsFor(ctx, key)
  const binaries = (await findLocal(binariesRefs, key, labelled, step)) ?? (await pull(binariesRefs, key, labelled, step))
  if (binaries === undefined || binaries.gitVersion !== hit.gitVersion) {
    step.warn(`the cache has the image of this tree's build (${hit.image}) but not its kubelet, kubeadm and kubectl (${shortRef(binariesRefs.remote ?? binariesRefs.local)}): building instead`)
    return false
  }
  const problem = await restoreBinaries(binaries, key, ctx, path.join(worktree, BUILD_OUTPUT), ARTIFACTS, step)
  if (problem !== undefined) {
    step.warn(`the cached build ${binaries.image} cannot serve (${problem}): building instead`)
    await step.run({ argv: ['docker', 'image', 'rm', binaries.image], okExitCodes: [0, 1] })
    return false
  }
  const image = hyperkubeImage(ctx.variant.tag)
  await step.run({ argv: tagArgv(hit.image, image) })
  const id = await localImageId(image, step)
  const builtAt = new Date().toISOString()
  await writeBuildStamp(worktree, { ...before, flags: buildFlagsDigest(buildArgv(), process.env), gitVersion: hit.gitVersion, builtAt, key, from: hit.from })
  if (id !== undefined) await writeImageStamp(worktree, { image, id, build: builtAt, from: hit.from })
  ctx.state.gitVersion = hit.gitVersion
  ctx.state.image = image
  ctx.state.built = hit.from
  step.info(`${hit.from}: ${hit.gitVersion}, binaries in ${path.join(worktree, BUILD_OUTPUT)}, image ${image}; nothing to build`)
  return true
}

export function readBuildStamp(worktree: string): Promise<BuildStamp | undefined> {
  return readJsonFile<BuildStamp>(path.join(worktree, STAMP_FILE), ['commit', 'tree', 'flags', 'gitVersion', 'builtAt'])
}

function writeBuildStamp(worktree: string, stamp: BuildStamp): Promise<void> {
  return writeJsonFile(path.join(worktree, STAMP_FILE), stamp)
}

/** Whether the tree has a finished build: a stamp, and every artifact still in place. */
export async function hasBuild(worktree: string): Promise<boolean> {
  return (await readBuildStamp(worktree)) !== undefined && (await hasArtifacts(worktree))
}

async function hasArtifacts(worktree: string): Promise<boolean> {
  const present = await Promise.all(ARTIFACTS.map((name) => exists(path.join(worktree, BUILD_OUTPUT, name))))
  return present.every(Boolean)
}


function indent(lines: string[]): string {
  return lines.map((line) => `    ${line}`).join('\n')
}

export { buildFlagsDigest, treeState, type TreeState }
