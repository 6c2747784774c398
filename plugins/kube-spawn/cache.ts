// kube-spawn's entries in the build cache (tasks/build-cache.ts), two images
// per key: the hyperkube image the control plane runs, labelled (the image
// the variant's cluster runs and `share` pushes is that one, unchanged but
// for its labels), and an image holding the build's hyperkube, kubelet,
// kubeadm and kubectl under /kspawn/bin (FROM scratch), as kube-spawn --dev
// copies kubelet and kubeadm into the machines from the build's _output. The
// build step looks the tree's key up and, on a hit, puts the binaries back
// into the worktree's _output and tags the image, so that the image step has
// nothing left to do; the image step makes both entries after a real build.
import { link, copyFile, mkdir, rm } from 'node:fs/promises'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import type { TaskContext } from '../../engine/run/task.ts'
import type { Step } from '../../engine/run/step-io.ts'
import { ENTRY_BIN, LABELS, builtByLabel, imageLabels, removeMatching, cacheRefs, cacheUse, makeEntry, push, type CacheRefs, type Hit, type KeyParts, type Reported } from '../../tasks/build-cache.ts'
import { parseVersion, versionArgv } from './kubernetes-build.ts'
import { exists } from '../../tasks/docker.ts'

/** The entries' repositories: <LOCAL_REPOSITORY or the registry>/hyperkube-amd64:<key> and .../kube-binaries:<key>. */
export const ARTIFACT = 'hyperkube-amd64'
export const BINARIES_ARTIFACT = 'kube-binaries'

/** What decides a kube-spawn build besides the tree: build/run.sh make, the hyperkube Makefile and the variables they read. */
export function keyParts(buildArgv: string[]): KeyParts {
  return {
    argv: [...buildArgv, '&&', 'make', '-C', 'cluster/images/hyperkube'],
    recipe: [`entries: the labelled hyperkube image, and hyperkube, kubelet, kubeadm and kubectl in ${ENTRY_BIN} of an image from scratch`],
    env: ['ARCH', 'BASEIMAGE', 'HYPERKUBE_BIN'],
  }
}

export function refsFor(ctx: TaskContext, key: string): CacheRefs {
  return cacheRefs(cacheUse(ctx), ARTIFACT, key)
}

export function binariesRefsFor(ctx: TaskContext, key: string): CacheRefs {
  return cacheRefs(cacheUse(ctx), BINARIES_ARTIFACT, key)
}

/** The binaries' image cannot run (it is FROM scratch): its kubelet is checked once restored (restoreBinaries). */
export const labelled: Reported = async (image, step) => ({ gitVersion: (await imageLabels(image, step))?.[LABELS.gitVersion] })

/** The version the image's hyperkube reports: `docker run --rm --network none --entrypoint /hyperkube <image> --version`. */
export const reported: Reported = async (image, step) => {
  const result = await step.run({ argv: ['docker', 'run', '--rm', '--network', 'none', '--entrypoint', '/hyperkube', image, '--version'], reads: true, capture: true, okExitCodes: [0, 1, 125, 126, 127] })
  const gitVersion = parseVersion(result.stdout ?? '')
  if (gitVersion === undefined) return { problem: `its /hyperkube --version said ${JSON.stringify(result.tail.slice(-1)[0] ?? '')} (exit code ${result.exitCode})` }
  return { gitVersion }
}

/**
 * Puts the entry's binaries into `dir` (the worktree's build output) and
 * checks that its kubelet reports the entry's gitVersion; the problem, or
 * undefined when they are in place.
 */
export async function restoreBinaries(hit: Hit, key: string, ctx: TaskContext, dir: string, names: string[], step: Step): Promise<string | undefined> {
  const container = `kspawn-cache-${key.slice(0, 12)}-${ctx.variant.name}`
  const remove = { argv: ['docker', 'rm', '--force', container], okExitCodes: [0, 1], cleanup: true, leftIfCut: `the container ${container}; remove it with: docker rm --force ${container}` }
  await mkdir(dir, { recursive: true })
  // Removed first, so that what is there afterwards came from the entry.
  for (const name of names) await rm(path.join(dir, name), { force: true })
  // The command is never run: the container only holds the image's files for docker cp.
  const created = await step.run({ argv: ['docker', 'create', '--name', container, '--network', 'none', hit.image, '/hyperkube'], okExitCodes: [0, 1, 125] })
  if (created.exitCode !== 0) return `docker create said: ${created.tail.slice(-1)[0] ?? `exit code ${created.exitCode}`}`
  try {
    const copied = await step.run({ argv: ['docker', 'cp', `${container}:${ENTRY_BIN}/.`, dir], okExitCodes: [0, 1] })
    if (copied.exitCode !== 0) return `docker cp of its ${ENTRY_BIN} said: ${copied.tail.slice(-1)[0] ?? `exit code ${copied.exitCode}`}`
  } finally {
    await step.run(remove)
  }
  const missing = []
  for (const name of names) if (!(await exists(path.join(dir, name)))) missing.push(name)
  if (missing.length > 0) return `it has no ${missing.map((name) => `${ENTRY_BIN}/${name}`).join(', ')}`
  const version = await step.run({ argv: versionArgv(path.join(dir, 'kubelet')), reads: true, capture: true, okExitCodes: [0, 1, 2, 126, 127] })
  const seen = parseVersion(version.stdout ?? '')
  if (seen !== hit.gitVersion) return `its kubelet reports ${seen ?? 'no version'}, not the gitVersion ${hit.gitVersion} of its label`
  return undefined
}

/**
 * After a real build and image: the binaries' entry, then the image's (the
 * variant's image tag then names the labelled image), pushed to the
 * registry when the config has one. The image's entry is made last: a
 * variant waiting for this build takes both once it appears.
 */
export async function keep(ctx: TaskContext, options: { image: string; key: string; gitVersion: string; dir: string; names: string[] }, step: Step): Promise<void> {
  const common = { key: options.key, gitVersion: options.gitVersion, builtBy: builtByLabel(ctx) }
  const binaries = binariesRefsFor(ctx, options.key)
  const image = refsFor(ctx, options.key)
  // A context of the four binaries alone: the build output holds every binary of Kubernetes.
  await removeMatching(path.join(options.dir, '..'), 'kspawn-cache-')
  const context = path.join(options.dir, '..', `kspawn-cache-${randomBytes(6).toString('hex')}`)
  await mkdir(context, { recursive: true })
  try {
    for (const name of options.names) await link(path.join(options.dir, name), path.join(context, name)).catch(() => copyFile(path.join(options.dir, name), path.join(context, name)))
    if (!(await makeEntry({ ...common, from: 'scratch', refs: binaries, files: { dir: context, names: options.names }, alsoTag: [] }, step))) return
  } finally {
    await rm(context, { recursive: true, force: true })
  }
  if (!(await makeEntry({ ...common, from: options.image, refs: image, alsoTag: [options.image] }, step))) return
  if ((await push(binaries, step)) !== undefined) await push(image, step)
}
