// What a variant's tasks start from. Paths and names that follow from the
// config alone are fixed here, so that any task can run on its own
// (`kspawn task build --variant denyattach`) and find the worktree that an
// earlier `fetch-source` made.
import path from 'node:path'
import type { Config, Variant } from './config.ts'
import type { VariantState } from './task.ts'

/** The repository the hyperkube Makefile tags its image in, and the name kube-spawn --dev looks for. */
export const HYPERKUBE_REPOSITORY = 'gcr.io/google-containers/hyperkube-amd64'

/** A separate $GOPATH per variant: kube-spawn --dev reads $GOPATH/src/k8s.io/kubernetes, so two variants cannot share one. */
export function variantGopath(config: Config, variant: Variant): string {
  return path.join(config.workdir, 'worktrees', variant.name)
}

export function variantWorktree(config: Config, variant: Variant): string {
  return path.join(variantGopath(config, variant), 'src', 'k8s.io', 'kubernetes')
}

/** The state every run of a variant starts from, before any task has run. */
export function initialVariantState(config: Config, variant: Variant): VariantState {
  const image = `${HYPERKUBE_REPOSITORY}:${variant.tag}`
  if (!variant.build) return { image }
  return { gopath: variantGopath(config, variant), worktree: variantWorktree(config, variant), image }
}

/** The fields of a variant that decide what its tasks make; a run recorded with other values cannot be reused. */
export function variantFingerprint(variant: Variant): string {
  const { name, cluster, tag, build, image, source } = variant
  return JSON.stringify({ name, cluster, tag, build, image: image?.ref, source })
}
