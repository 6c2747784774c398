// kind's steps: the node image of a variant's tree (`kind build node-image`,
// which runs the tree's `make quick-release-images` and takes kubeadm,
// kubelet, kubectl and the control-plane images from its _output), or an
// external node image, pulled and tagged with the name a build would have.
import { StepError } from '../../engine/errors.ts'
import type { Task } from '../../engine/run/task.ts'
import { openStep } from '../../engine/run/step-io.ts'
import { imageStillThere, localImageId, tagArgv } from '../../tasks/docker.ts'
import { parseGitVersion, workspaceStatusArgv, worktreeOf } from '../../tasks/tree.ts'
import { buildNodeImageArgv, type KindDeployer } from './index.ts'

export const nodeImage: Task = {
  id: 'node-image',
  description: "kind build node-image <worktree> --type source --image kspawn/kind-node:<tag>: the node image of the variant's tree",
  title: (ctx) => `Build the node image ${ctx.variant.deployer.image(ctx.variant)}`,
  skip: (ctx) => (ctx.variant.build ? false : `image variant: it runs ${ctx.variant.image.ref}, which use-node-image takes`),
  stillDone: (ctx, services) => imageStillThere('node-image', ctx, services),
  async run(ctx, services) {
    const step = openStep('node-image', ctx, services)
    const worktree = await worktreeOf(ctx, step)
    const deployer = ctx.variant.deployer as KindDeployer
    const image = deployer.image(ctx.variant)
    const build = await step.run({ argv: buildNodeImageArgv(worktree, image, deployer.options.baseImage), cwd: worktree })
    ctx.state.image = image
    if (step.dryRun) return
    // The version the build stamped, as kind reads it too: the smoke test checks that the cluster runs it.
    const status = await step.run({ argv: workspaceStatusArgv(), cwd: worktree, reads: true, capture: true })
    const gitVersion = parseGitVersion(status.stdout ?? '')
    if (gitVersion === undefined) throw new StepError(`${status.commandLine} (in ${worktree}) printed no gitVersion line`)
    ctx.state.gitVersion = gitVersion
    const id = await localImageId(image, step)
    if (id === undefined) throw new StepError(`${build.commandLine} succeeded, but the Docker engine has no image ${image}: check ${build.logFile ?? 'its output'}`)
    step.info(`built ${image} (${id.slice(0, 19)}) from ${gitVersion}`)
  },
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
