// image: the article's `make -C cluster/images/hyperkube VERSION=<tag>`, which
// tags gcr.io/google-containers/hyperkube-amd64:<tag> in the Docker engine,
// the name kube-spawn --dev takes the cluster's image by. A stamp next to the
// build's says which build the image was made from, so that an image already
// made from the current build is not made again.
import { readJsonFile, writeJsonFile } from '../../engine/json-file.ts'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { StepError } from '../../engine/errors.ts'
import type { Task } from '../../engine/run/task.ts'
import { variantWorktree } from '../../engine/run/variant-state.ts'
import { HYPERKUBE_REPOSITORY } from './names.ts'
import { ARTIFACTS, BUILD_OUTPUT, readBuildStamp, worktreeOf } from './build.ts'
import { cacheUse } from '../../tasks/build-cache.ts'
import { keep } from './cache.ts'
import { imageStillThere, localImageId } from '../../tasks/docker.ts'
import { openStep } from '../../engine/run/step-io.ts'

const STAMP_FILE = path.join('_output', 'kspawn-image.json')

interface ImageStamp {
  image: string
  /** The image's id (`sha256:...`) when it was made. */
  id: string
  /** builtAt of the build it was made from. */
  build: string
  /** The cache entry it was taken from, when it was not made here. */
  from?: string
}

export function hyperkubeImage(tag: string): string {
  return `${HYPERKUBE_REPOSITORY}:${tag}`
}

export function imageArgv(tag: string): string[] {
  return ['make', '-C', 'cluster/images/hyperkube', `VERSION=${tag}`]
}

export const image: Task = {
  id: 'image',
  description: 'make -C cluster/images/hyperkube VERSION=<tag>: the hyperkube image the cluster runs',
  title: (ctx) => `Make the image ${hyperkubeImage(ctx.variant.tag)}`,
  async skip(ctx, services) {
    const image = hyperkubeImage(ctx.variant.tag)
    if (!ctx.variant.build) return `image variant: it runs ${ctx.variant.image.ref}, which cluster-up expects in the Docker engine as ${image}`
    const worktree = ctx.state.worktree ?? variantWorktree(ctx.config, ctx.variant)
    const [stamp, build] = await Promise.all([readImageStamp(worktree), readBuildStamp(worktree)])
    if (!stamp || !build || stamp.image !== image || stamp.build !== build.builtAt) return false
    if ((await localImageId(image, openStep('image', ctx, services))) !== stamp.id) return false
    ctx.state.image = image
    if (stamp.from !== undefined) return `${image} came with the build: ${stamp.from} (${stamp.id.slice(0, 19)})`
    return `${image} is already the image of the current build (${stamp.id.slice(0, 19)})`
  },
  stillDone: (ctx, services) => imageStillThere('image', ctx, services),
  async run(ctx, services) {
    const step = openStep('image', ctx, services)
    const worktree = await worktreeOf(ctx, step)
    const image = hyperkubeImage(ctx.variant.tag)
    if (!step.dryRun) await rm(path.join(worktree, STAMP_FILE), { force: true })
    const make = await step.run({ argv: imageArgv(ctx.variant.tag), cwd: worktree })
    ctx.state.image = image
    if (make.dryRun) return

    const id = await localImageId(image, step)
    if (id === undefined) {
      throw new StepError(`${make.commandLine} (in ${worktree}) succeeded, but the Docker engine has no image ${image}: check the REGISTRY, ARCH and VERSION the Makefile used in ${make.logFile ?? 'its output'}`)
    }
    const build = await readBuildStamp(worktree)
    step.info(`made ${image} (${id.slice(0, 19)})`)
    // Kept in the build cache under the key the build step found, with the build's binaries; the image is then the labelled entry.
    if (build?.key !== undefined && cacheUse(ctx).enabled) {
      await keep(ctx, { image, key: build.key, gitVersion: build.gitVersion, dir: path.join(worktree, BUILD_OUTPUT), names: ARTIFACTS }, step)
    }
    const kept = (await localImageId(image, step)) ?? id
    if (build) await writeImageStamp(worktree, { image, id: kept, build: build.builtAt })
  },
}

function readImageStamp(worktree: string): Promise<ImageStamp | undefined> {
  return readJsonFile<ImageStamp>(path.join(worktree, STAMP_FILE), ['image', 'id', 'build'])
}

export function writeImageStamp(worktree: string, stamp: ImageStamp): Promise<void> {
  return writeJsonFile(path.join(worktree, STAMP_FILE), stamp)
}
