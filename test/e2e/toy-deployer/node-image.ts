// The toy deployer's one step: build the tree (build/run.sh make) and make
// the node image of the build, as kind's `build node-image` does in one go.
import { cp, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { openStep, StepError, type Task } from 'kspawn'

/** Where build/run.sh make puts the binaries, relative to the tree. */
const OUTPUT = path.join('_output', 'dockerized', 'bin', 'linux', 'amd64')

export const nodeImage: Task = {
  id: 'node-image',
  description: 'build/run.sh make, then docker build of a node image with its hyperkube and kubelet (toy deployer)',
  title: (ctx) => `Build the tree and the node image ${ctx.variant.deployer.image(ctx.variant)}`,
  skip: (ctx) => (ctx.variant.build ? false : `image variant: the toy builds from source only`),
  async run(ctx, services) {
    const step = openStep('node-image', ctx, services)
    const worktree = ctx.state.worktree
    if (!worktree || !ctx.variant.build) throw new StepError(`variant ${ctx.variant.name} has no worktree: fetch its source first (kspawn task fetch-source --variant ${ctx.variant.name})`)
    await step.run({ argv: ['build/run.sh', 'make'], cwd: worktree })
    // In a dry run nothing was fetched or built: there is no tree to ask.
    const status = step.dryRun ? undefined : await step.run({ argv: ['hack/print-workspace-status.sh'], cwd: worktree, reads: true, capture: true })
    const gitVersion = /^gitVersion\s+(\S+)$/m.exec(status?.stdout ?? '')?.[1]
    const image = ctx.variant.deployer.image(ctx.variant)
    const context = path.join(worktree, '_output', 'toy-node-image')
    if (!step.dryRun) {
      if (gitVersion === undefined) throw new StepError(`hack/print-workspace-status.sh in ${worktree} printed no gitVersion`)
      await mkdir(path.join(context, 'etc'), { recursive: true })
      for (const binary of ['hyperkube', 'kubelet']) await cp(path.join(worktree, OUTPUT, binary), path.join(context, binary))
      // A kubelet with a bootstrap kubeconfig registers itself as a node of its hostname.
      await writeFile(path.join(context, 'etc', 'bootstrap-kubelet.conf'), 'apiVersion: v1\nkind: Config\n')
      await writeFile(
        path.join(context, 'Dockerfile'),
        ['FROM busybox:latest', 'COPY hyperkube /hyperkube', 'COPY kubelet /usr/bin/kubelet', 'COPY etc/bootstrap-kubelet.conf /etc/kubernetes/bootstrap-kubelet.conf', ''].join('\n'),
      )
      ctx.state.gitVersion = gitVersion
    }
    await step.run({ argv: ['docker', 'build', '--quiet', '--tag', image, '--label', `io.kspawn.toy.gitVersion=${gitVersion ?? 'unknown'}`, context] })
    ctx.state.image = image
    if (!step.dryRun) step.info(`made ${image} from the build ${gitVersion}`)
  },
}
