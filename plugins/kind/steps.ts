// kind's steps: the node image of a variant's tree (`kind build node-image`,
// which runs the tree's `make quick-release-images` and takes kubeadm,
// kubelet, kubectl and the control-plane images from its _output), or an
// external node image, pulled and tagged with the name a build would have.
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { StepError } from '../../engine/errors.ts'
import { readJsonFile, writeJsonFile } from '../../engine/json-file.ts'
import type { Task } from '../../engine/run/task.ts'
import { openStep, type Step } from '../../engine/run/step-io.ts'
import { variantWorktree } from '../../engine/run/variant-state.ts'
import { imageStillThere, localImageId, tagArgv } from '../../tasks/docker.ts'
import { buildFlagsDigest, parseGitVersion, treeState, workspaceStatusArgv, worktreeOf, type TreeState } from '../../tasks/tree.ts'
import { buildNodeImageArgv, type KindDeployer } from './index.ts'
import { builtByLabel, cacheRefs, cacheUse, dryRunNote, earlierBuild, findBuild, keyOf, makeEntry, push, type Reported } from '../../tasks/build-cache.ts'

export const nodeImage: Task = {
  id: 'node-image',
  description: "kind build node-image <worktree> --type source --image kspawn/kind-node:<tag>: the node image of the variant's tree",
  title: (ctx) => `Build the node image ${ctx.variant.deployer.image(ctx.variant)}`,
  async skip(ctx, services) {
    if (!ctx.variant.build) return `image variant: it runs ${ctx.variant.image.ref}, which use-node-image takes`
    // The same tree, kind, base image and KUBE_* variables as the image in the engine was built from: it is that image.
    const worktree = ctx.state.worktree ?? variantWorktree(ctx.config, ctx.variant)
    const stamp = await readJsonFile<NodeImageStamp>(path.join(worktree, STAMP_FILE), ['commit', 'tree', 'recipe', 'image', 'imageId', 'gitVersion'])
    if (!stamp) return false
    const step = openStep('node-image', ctx, services)
    const deployer = ctx.variant.deployer as KindDeployer
    const image = deployer.image(ctx.variant)
    if (stamp.image !== image || stamp.imageId !== (await localImageId(image, step))) return false
    const now = await treeState(worktree, step)
    if (stamp.commit !== now.commit || stamp.tree !== now.tree || stamp.recipe !== (await recipe(deployer, step))) return false
    ctx.state.image = image
    ctx.state.gitVersion = stamp.gitVersion
    ctx.state.built = earlierBuild(stamp.from)
    return `already built: ${image} is ${now.commit.slice(0, 12)} (${now.tree === 'clean' ? 'clean tree' : 'the same local changes'}) with the same kind, base image and flags, gitVersion ${stamp.gitVersion}; remove ${path.join(worktree, STAMP_FILE)} to build again`
  },
  stillDone: (ctx, services) => imageStillThere('node-image', ctx, services),
  async run(ctx, services) {
    const step = openStep('node-image', ctx, services)
    const worktree = await worktreeOf(ctx, step)
    const deployer = ctx.variant.deployer as KindDeployer
    const image = deployer.image(ctx.variant)
    // Removed first: an image made by a build that then fails is vouched for by no stamp.
    if (!step.dryRun) await rm(path.join(worktree, STAMP_FILE), { force: true })
    const before = step.dryRun ? undefined : await treeState(worktree, step)
    const cache = cacheUse(ctx)
    dryRunNote(ctx, step)
    const key = cache.enabled ? (await keyOf(worktree, { argv: ['kind', 'build', 'node-image', '--type', 'source'], recipe: [await recipe(deployer, step)] }, step)).key : undefined
    const refs = key === undefined ? undefined : cacheRefs(cache, deployer.shareName, key)
    const hit = key === undefined || refs === undefined ? undefined : await findBuild(ctx, refs, key, { steps: ['node-image'], reported }, step)
    if (hit !== undefined && before !== undefined) {
      await step.run({ argv: tagArgv(hit.image, image) })
      const id = (await localImageId(image, step)) ?? ''
      const stamp: NodeImageStamp = { ...before, recipe: await recipe(deployer, step), image, imageId: id, gitVersion: hit.gitVersion, builtAt: new Date().toISOString(), from: hit.from }
      await writeJsonFile(path.join(worktree, STAMP_FILE), stamp)
      Object.assign(ctx.state, { image, gitVersion: hit.gitVersion, built: hit.from })
      step.info(`${hit.from}: ${image} (${id.slice(0, 19)}) is ${hit.gitVersion}; nothing to build`)
      return
    }
    const build = await step.run({ argv: buildNodeImageArgv(worktree, image, deployer.options.baseImage), cwd: worktree })
    ctx.state.image = image
    if (step.dryRun) return
    // The version the build stamped, as kind reads it too: the smoke test checks that the cluster runs it.
    const status = await step.run({ argv: workspaceStatusArgv(), cwd: worktree, reads: true, capture: true })
    const gitVersion = parseGitVersion(status.stdout ?? '')
    if (gitVersion === undefined) throw new StepError(`${status.commandLine} (in ${worktree}) printed no gitVersion line`)
    ctx.state.gitVersion = gitVersion
    const made = await localImageId(image, step)
    if (made === undefined) throw new StepError(`${build.commandLine} succeeded, but the Docker engine has no image ${image}: check ${build.logFile ?? 'its output'}`)
    ctx.state.built = `built in this run (${ctx.run.id})`
    // Kept in the build cache: the node image, labelled with the key and gitVersion, is then the entry.
    if (key !== undefined && refs !== undefined && (await makeEntry({ from: image, refs, key, gitVersion, builtBy: builtByLabel(ctx), alsoTag: [image] }, step))) await push(refs, step)
    const id = (await localImageId(image, step)) ?? made
    const stamp: NodeImageStamp = { ...before!, recipe: await recipe(deployer, step), image, imageId: id, gitVersion, builtAt: new Date().toISOString(), from: `built in run ${ctx.run.id}` }
    await writeJsonFile(path.join(worktree, STAMP_FILE), stamp)
    step.info(`built ${image} (${id.slice(0, 19)}) from ${gitVersion}`)
  },
}

/** In _output, so that removing the build output removes the stamp with it. */
const STAMP_FILE = path.join('_output', 'kspawn-node-image.json')

/** What the node image in the engine was built from: the tree, and the recipe (kind's version, base image, KUBE_* variables). */
interface NodeImageStamp extends TreeState {
  recipe: string
  image: string
  imageId: string
  gitVersion: string
  builtAt: string
  /** Where the image came from, for the summary: built in a run, or the cache entry it was taken from. */
  from?: string
}

/** kind's version (its own build recipe), the base image and the KUBE_* variables the tree's make reads. */
async function recipe(deployer: KindDeployer, step: Step): Promise<string> {
  // Asked once per run: the key, the skip and the stamp all need it, and kind takes seconds to answer on a loaded machine.
  let version = kindVersions.get(step.signal)
  if (version === undefined) {
    version = step.run({ argv: ['kind', 'version'], reads: true, capture: true }).then((result) => (result.stdout ?? '').trim())
    kindVersions.set(step.signal, version)
  }
  return buildFlagsDigest([await version, deployer.options.baseImage ?? 'default base image'], process.env)
}

/** `kind version` by run (a run's steps share its abort signal). */
const kindVersions = new WeakMap<AbortSignal, Promise<string>>()

/** The version a node image says it holds: `cat /kind/version` in it, as kind itself reads it. */
const reported: Reported = async (image, step) => {
  const result = await step.run({ argv: ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'cat', image, '/kind/version'], reads: true, capture: true, okExitCodes: [0, 1, 125, 126, 127] })
  const gitVersion = (result.stdout ?? '').trim()
  if (result.exitCode !== 0 || gitVersion === '') return { problem: `it has no /kind/version (${result.tail.slice(-1)[0] ?? `exit code ${result.exitCode}`})` }
  return { gitVersion }
}

export const useNodeImage: Task = {
  id: 'use-node-image',
  description: 'docker pull an external node image and docker tag it as kspawn/kind-node:<tag>, the name a build would have',
  title: (ctx) => (ctx.variant.image ? `Use the node image ${ctx.variant.image.ref} as ${ctx.variant.deployer.image(ctx.variant)}` : 'Use an external node image'),
  skip: (ctx) => (ctx.variant.image ? false : `built from source: node-image makes ${ctx.variant.deployer.image(ctx.variant)}`),
  stillDone: (ctx, services) => imageStillThere('use-node-image', ctx, services),
  async run(ctx, services) {
    const step = openStep('use-node-image', ctx, services)
    const external = ctx.variant.image
    if (!external) throw new StepError(`variant ${ctx.variant.name} builds from source: it has no external node image to use`)
    const image = ctx.variant.deployer.image(ctx.variant)
    await step.run({ argv: ['docker', 'pull', external.ref] })
    await step.run({ argv: tagArgv(external.ref, image) })
    ctx.state.image = image
    if (step.dryRun) return
    step.info(`${image} is ${external.ref} (${(await localImageId(image, step))?.slice(0, 19) ?? 'no id'})`)
  },
}
