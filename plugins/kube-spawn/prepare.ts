// What a kube-spawn cluster runs, gathered before cluster-up calls `up`: the
// hyperkube image (made by the image step or adopted by use-image) and the
// Kubernetes build whose kubeadm and kubelet kube-spawn --dev copies into the
// machines, found through $GOPATH (kubernetes-build.ts).
import { StepError } from '../../engine/errors.ts'
import type { ClusterImage, StepIO } from '../../engine/plugin.ts'
import type { TaskContext } from '../../engine/run/task.ts'
import { localImageId } from '../../tasks/docker.ts'
import { hyperkubeImage } from './image.ts'
import { kubernetesBuildFor } from './kubernetes-build.ts'

export async function prepare(ctx: TaskContext, io: StepIO & { readonly signal: AbortSignal }): Promise<ClusterImage> {
  const image = hyperkubeImage(ctx.variant.tag)
  const binaries = await kubernetesBuildFor(ctx, io)
  const controlPlane = ctx.variant.image ? `${image}, pulled from ${ctx.variant.image.ref}` : `${image}, made from the build of variant ${ctx.variant.name}`
  if (ctx.variant.image) io.info(`variant ${ctx.variant.name} runs the image ${ctx.variant.image.ref}; its machines get kubeadm and kubelet from ${binaries.from} (${binaries.dir}, ${binaries.gitVersion})`)
  if (!io.dryRun && (await localImageId(image, io)) === undefined) throw missingImage(ctx, image)
  return {
    image,
    tag: ctx.variant.tag,
    controlPlane,
    binaries: { dir: binaries.dir, gitVersion: binaries.gitVersion, from: binaries.from },
    data: { gopath: binaries.gopath },
  }
}

function missingImage(ctx: TaskContext, image: string): StepError {
  if (ctx.variant.image) {
    const ref = ctx.variant.image.ref
    return new StepError(
      `the Docker engine has no image ${image}, which kube-spawn --dev runs for variant ${ctx.variant.name}: take it first (kspawn task use-image --variant ${ctx.variant.name}, which runs docker pull ${ref} and docker tag ${ref} ${image})`,
    )
  }
  return new StepError(`the Docker engine has no image ${image}: make it first (kspawn task image --variant ${ctx.variant.name})`)
}
