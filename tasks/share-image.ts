// share-image: the article's "Sharing the hyperkube image": tag the local
// image the variant's deployer made into the config's share.repository
// (<repository>/<the deployer's shareName>:<tag>) and push it, so that
// others can run it as an external image. Credentials are Docker's own
// (`docker login`): kspawn never reads, prints or stores them.
import { StepError } from '../engine/errors.ts'
import type { Task } from '../engine/run/task.ts'
import type { Variant } from '../engine/config/config.ts'
import { localImageId, tagArgv } from './docker.ts'
import { openStep } from '../engine/run/step-io.ts'

/** `<repository>/<shareName>:<tag>`: the name the article pushes, e.g. docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattach. */
export function sharedImage(repository: string, name: string, tag: string): string {
  return `${repository.replace(/\/+$/, '')}/${name}:${tag}`
}

/** Where share-image pushes a variant's image. */
function sharedImageOf(repository: string, variant: Variant): string {
  return sharedImage(repository, variant.deployer.shareName, variant.tag)
}

export function pushArgv(image: string): string[] {
  return ['docker', 'push', image]
}

/** Every repository digest the engine knows for the image, as JSON. */
export function repoDigestsArgv(image: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{json .RepoDigests}}', image]
}

/** The digest `docker push` reports: `<tag>: digest: sha256:<hex> size: <n>`. */
export function parsePushDigest(output: string): string | undefined {
  return /\bdigest: (sha256:[0-9a-f]{64})\b/.exec(output)?.[1]
}

/** The pushed repository's entry among an image's RepoDigests (an image pulled from elsewhere has others too). */
export function pickRepoDigest(repoDigests: string[], image: string): string | undefined {
  const repository = image.slice(0, image.lastIndexOf(':'))
  return repoDigests.find((entry) => entry.startsWith(`${repository}@`))
}

export const shareImage: Task = {
  id: 'share-image',
  description: "docker tag and docker push the image the variant's deployer made to share.repository, and print it with its digest",
  title: (ctx) => `Share ${ctx.variant.deployer.image(ctx.variant)}${ctx.config.share ? ` as ${sharedImageOf(ctx.config.share.repository, ctx.variant)}` : ''}`,
  async preflight(config) {
    return config.share ? [] : [`${config.file} has no share.repository, the repository the share workflow pushes images to: add share: { repository: 'docker.io/<your account>' }`]
  },
  async run(ctx, services) {
    const step = openStep('share-image', ctx, services)
    const { share, file } = ctx.config
    if (!share) {
      throw new StepError(`${file} has no share.repository, the repository to push images to: add share: { repository: 'docker.io/<your account>' } and rerun`)
    }
    const local = ctx.variant.deployer.image(ctx.variant)
    const target = sharedImageOf(share.repository, ctx.variant)
    if (!step.dryRun && (await localImageId(local, step)) === undefined) {
      const steps = (await ctx.variant.deployer.steps()).map((task) => task.id)
      const how = `make it first with the steps of its deployer ${ctx.variant.deployer.name} (kspawn task <step> --variant ${ctx.variant.name}, the steps being ${steps.join(', ')}), or run kspawn run share --variant ${ctx.variant.name}`
      throw new StepError(`the Docker engine has no image ${local} to share: ${how}`)
    }
    await step.run({ argv: tagArgv(local, target) })
    // Captured for its digest line; push prints one line per layer, not a build log.
    const push = await step.run({ argv: pushArgv(target), capture: true })
    if (push.dryRun) return

    const pushed = parsePushDigest(push.stdout ?? '')
    const inspected = await step.run({ argv: repoDigestsArgv(target), reads: true, capture: true })
    const repoDigests = JSON.parse(inspected.stdout?.trim() || '[]') as string[] | null
    const reference = pickRepoDigest(repoDigests ?? [], target) ?? (pushed ? `${target.slice(0, target.lastIndexOf(':'))}@${pushed}` : undefined)
    if (!reference) {
      throw new StepError(`${push.commandLine} succeeded, but neither its output nor ${inspected.commandLine} gave the pushed digest: check ${push.logFile ?? 'its output'}`)
    }
    ctx.state.shared = reference
    step.info(`pushed ${target}: ${reference}`)
  },
}
