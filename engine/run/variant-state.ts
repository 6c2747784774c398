// What a variant's tasks start from. Paths and names that follow from the
// config alone are fixed here, so that any task can run on its own
// (`kspawn task build --variant denyattach`) and find the worktree that an
// earlier `fetch-source` made.
import path from 'node:path'
import type { Config, Variant } from '../config/config.ts'
import type { VariantState } from './task.ts'

/** A separate GOPATH-shaped folder per variant, as Kubernetes trees of every age build in one: <workdir>/worktrees/<variant>. */
export function variantGopath(config: Config, variant: Variant): string {
  return path.join(config.workdir, 'worktrees', variant.name)
}

export function variantWorktree(config: Config, variant: Variant): string {
  return path.join(variantGopath(config, variant), 'src', 'k8s.io', 'kubernetes')
}

/** The state every run of a variant starts from, before any task has run. */
export function initialVariantState(config: Config, variant: Variant): VariantState {
  const image = variant.deployer.image(variant)
  if (!variant.build) return { image }
  return { gopath: variantGopath(config, variant), worktree: variantWorktree(config, variant), image }
}

/** The fields of a variant that decide what its tasks make; a run recorded with other values cannot be reused. */
export function variantFingerprint(variant: Variant): string {
  const { name, cluster, tag, build, image, source } = variant
  // The deployer's settings too: a cluster made with others (admission plugins, nodes) is not what the config now asks for.
  return JSON.stringify({ name, cluster, tag, build, image: image?.ref, source, deployer: variant.deployer.name, deployerSettings: variant.deployer.options })
}

/**
 * How a variant differs from the one a run recorded (its fingerprint), as the
 * config names the fields: `source.branch was "a", now "b"`. Empty when it
 * does not differ.
 */
export function variantChanges(recordedFingerprint: string, variant: Variant): string[] {
  const fingerprint = variantFingerprint(variant)
  if (recordedFingerprint === fingerprint) return []
  let before: Record<string, string>
  try {
    before = flatten(JSON.parse(recordedFingerprint) as unknown)
  } catch {
    return ['its definition']
  }
  const now = flatten(JSON.parse(fingerprint) as unknown)
  const fields = [...new Set([...Object.keys(before), ...Object.keys(now)])]
  const shown = (value: string | undefined) => value ?? 'none'
  const changes = fields.filter((field) => before[field] !== now[field]).map((field) => `${configField(field)} was ${shown(before[field])}, now ${shown(now[field])}`)
  return changes.length > 0 ? changes : ['its definition']
}

/** Leaf values by dotted path, as JSON: { build: { ref: { branch: "b" } } } is { "build.ref.branch": "\"b\"" }. */
function flatten(value: unknown, prefix = ''): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix === '' ? {} : { [prefix]: JSON.stringify(value) }
  return Object.assign({}, ...Object.entries(value).map(([key, inner]) => flatten(inner, prefix === '' ? key : `${prefix}.${key}`)))
}

/** The config's name for a fingerprint field: what is built is the variant's `source`, whose ref is its branch, commit or tag. */
function configField(field: string): string {
  return field.replace(/^build\./, 'source.').replace(/^source\.ref\./, 'source.').replace(/^deployerSettings\./, "the deployer's ")
}
