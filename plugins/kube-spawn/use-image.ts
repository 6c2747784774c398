// use-image: the article's "Using an external hyperkube image": pull an
// image someone else built and tag it with the name a local build would have
// (gcr.io/google-containers/hyperkube-amd64:<tag>), so that kube-spawn --dev
// takes it exactly as it takes a local build. Nothing is compiled.
//
// The image carries the API server, controller manager and scheduler but not
// kubeadm, which comes from a Kubernetes build instead. A patch that changes
// kubeadm therefore cannot be tested through an image: when the variant names
// the patch, it is checked first, and such a variant stops before anything runs.
import { StepError } from '../../engine/errors.ts'
import type { Task, TaskContext } from '../../engine/run/task.ts'
import { describeRef, fetchIntoCheckout } from '../../tasks/fetch-source.ts'
import { hyperkubeImage } from './image.ts'
import { plannedBuildSource } from './kubernetes-build.ts'
import { imageStillThere, localImageId, tagArgv } from '../../tasks/docker.ts'
import { openStep, type Step } from '../../engine/run/step-io.ts'

export function pullArgv(image: string): string[] {
  return ['docker', 'pull', image]
}

/** The upstream release tag a commit was made on (the fork's tags are never fetched, so it is upstream's). */
export function baseTagArgs(commit: string): string[] {
  return ['describe', '--tags', '--abbrev=0', commit]
}

/** Files the patch changes since it left base: `base...commit` diffs from their merge-base. */
export function changedFilesArgs(base: string, commit: string): string[] {
  return ['diff', '--name-only', `${base}...${commit}`]
}

/** kubeadm's own code, and the vendored code it is built with. */
export function touchesKubeadm(file: string): boolean {
  return file.startsWith('cmd/kubeadm/') || file.startsWith('vendor/')
}

export const useImage: Task = {
  id: 'use-image',
  description: 'docker pull an external image and docker tag it as a local build would be (refused when its patch changes kubeadm)',
  title: (ctx) => (ctx.variant.image ? `Use the image ${ctx.variant.image.ref} as ${hyperkubeImage(ctx.variant.tag)}` : 'Use an external image'),
  skip: (ctx) => (ctx.variant.image ? false : `built from source: the image task makes ${hyperkubeImage(ctx.variant.tag)}`),
  stillDone: (ctx, services) => imageStillThere('use-image', ctx, services),
  async run(ctx, services) {
    const step = openStep('use-image', ctx, services)
    const image = ctx.variant.image
    if (!image) throw new StepError(`variant ${ctx.variant.name} builds from source: it has no external image to use`)
    ctx.state.kubeadmNote = await checkKubeadm(ctx, image.ref, step)

    const local = hyperkubeImage(ctx.variant.tag)
    await step.run({ argv: pullArgv(image.ref) })
    await step.run({ argv: tagArgv(image.ref, local) })
    ctx.state.image = local
    if (step.dryRun) return
    const id = await localImageId(local, step)
    step.info(`${local} is ${image.ref} (${id?.slice(0, 19) ?? 'no id'})`)
  },
}

/** Stops the variant when its patch changes kubeadm; otherwise what is known of the kubeadm it needs, for the summary. */
async function checkKubeadm(ctx: TaskContext, ref: string, step: Step): Promise<string> {
  const kubeadm = plannedBuildSource(ctx.config)
  const source = ctx.variant.source
  if (!source) {
    const note = `no source given for ${ref}: kspawn cannot tell whether its patch changes kubeadm; the cluster runs kubeadm and kubelet from ${kubeadm}`
    step.warn(`variant ${ctx.variant.name}: ${note}`)
    return note
  }
  const { commit, repo } = await fetchIntoCheckout(ctx, source, step)
  const patch = `${describeRef(source.ref)} of ${source.remote}`
  // In a dry run the fetch was only printed, so the commit may not be here to diff.
  if (step.dryRun && (await repo.tryRead(['rev-parse', '--verify', '--quiet', `${commit}^{commit}`])) === undefined) {
    return `not checked in a dry run: ${patch} is not fetched yet`
  }
  const base = await repo.tryRead(baseTagArgs(commit))
  if (base === undefined) {
    const note = `${patch} (${commit.slice(0, 12)}) is on no upstream release tag, so kspawn cannot tell whether it changes kubeadm; the cluster runs kubeadm and kubelet from ${kubeadm}`
    step.warn(`variant ${ctx.variant.name}: ${note}`)
    return note
  }
  const changed = (await repo.read(changedFilesArgs(base, commit))).split('\n').filter(touchesKubeadm)
  if (changed.length > 0) {
    const shown = changed.length > 10 ? [...changed.slice(0, 10), `... and ${changed.length - 10} more`] : changed
    throw new StepError(
      [
        `variant ${ctx.variant.name} runs the image ${ref}, but its patch (${patch}, ${commit.slice(0, 12)}) changes kubeadm since ${base}:`,
        ...shown.map((file) => `    ${file}`),
        `  The hyperkube image carries the API server, controller manager and scheduler but not kubeadm: the cluster would run kubeadm from ${kubeadm}, not the patch's.`,
        `  Build this variant from source instead: give it source and tag (tag: '${ctx.variant.tag}') without image.`,
      ].join('\n'),
    )
  }
  return `${patch} (${commit.slice(0, 12)}) changes no kubeadm code since ${base}`
}
