// The variant `kspawn pr` runs, derived from what a GitHub URL resolved to:
// the remote it is fetched through (named for the owner of the code), the
// image tag (<base version>-pr<N>-<short sha>) and the cluster (a DNS label
// that does not end in a digit). Each can be given instead on the command line.
// What it reads of your checkout goes through the runner as a command that
// only reads, so it runs in --dry-run too.
import type { BuildVariant } from '../engine/config/config.ts'
import type { ClusterNameRule, Deployer, StepIO, Tester } from '../engine/plugin.ts'
import { UsageError, isCommandError } from '../engine/errors.ts'
import type { Target } from './github-target.ts'
import { clusterNameProblem, dockerTagProblem } from '../engine/config/validate.ts'
import { gitCommand, remoteName, sameRemote } from '../tasks/git.ts'

export interface PrVariantChoices {
  /** --cluster: also names the variant. */
  cluster?: string
  /** --tag */
  tag?: string
  /** --remote */
  remote?: string
}

export interface PrVariant {
  variant: BuildVariant
  /** The remote the checkout fetches through; `existing` when a remote of the checkout already has that URL. */
  remote: { name: string; url: string; existing: boolean }
  /** The version the code is based on, from the checkout's tags; undefined when the checkout does not have the commits to tell. */
  baseVersion?: string
  /** Said with the plan when the base version could not be told. */
  notes: string[]
}

/** Longest derived cluster name, leaving room for what deployers add to it in their machine names (kubespawn<cluster><index>, <cluster>-control-plane). */
const MAX_DERIVED_CLUSTER = 40

/** Why a remote name cannot be used, or undefined. */
export function remoteNameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty'
  const bad = /[^A-Za-z0-9._-]/.exec(name)
  if (bad) return `it contains "${bad[0]}"`
  if (name.startsWith('.') || name.startsWith('-') || name.endsWith('.') || name.includes('..')) return 'it starts with "." or "-", ends with "." or contains ".."'
  return undefined
}

/** Checks --cluster (by kspawn's rule and the deployer's own, if any), --tag and --remote before anything is asked of GitHub. */
export function checkChoices(choices: PrVariantChoices, clusterRule?: ClusterNameRule): void {
  const problems: string[] = []
  if (choices.cluster !== undefined) {
    const why = clusterNameProblem(choices.cluster) ?? clusterRule?.problem(choices.cluster)
    const what = clusterRule?.what ?? 'a lowercase DNS label'
    if (why !== undefined) problems.push(`--cluster: expected a cluster name (${what}), found "${choices.cluster}" (${why})`)
  }
  if (choices.tag !== undefined) {
    const why = dockerTagProblem(choices.tag)
    if (why !== undefined) problems.push(`--tag: expected a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), found "${choices.tag}" (${why})`)
  }
  if (choices.remote !== undefined) {
    const why = remoteNameProblem(choices.remote)
    if (why !== undefined) problems.push(`--remote: expected a git remote name (letters, digits, ".", "_" and "-"), found "${choices.remote}" (${why})`)
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'))
}

/** `git -C <checkout> <args>`, reading the checkout named and not one that GIT_DIR from the environment points at: its stdout, or undefined when git fails. */
async function readCheckout(checkout: string, args: string[], run: StepIO['run'], options: { secretStdout?: boolean } = {}): Promise<string | undefined> {
  try {
    const { stdout = '' } = await run({ ...gitCommand(['git', '-C', checkout, ...args], checkout), reads: true, capture: true, ...options })
    return stdout
  } catch (error) {
    // Interrupted (Ctrl-C) is not git's answer: it stops kspawn pr.
    if (isCommandError(error)) return undefined
    throw error
  }
}

/** The nearest version tag (v1.8.5-beta.0) of the first hint commit the checkout has; reads only. */
export async function baseVersionOf(checkout: string, hints: string[], run: StepIO['run']): Promise<string | undefined> {
  for (const commit of hints) {
    const version = (await readCheckout(checkout, ['describe', '--tags', '--abbrev=0', '--match', 'v[0-9]*', `${commit}^{commit}`], run))?.trim()
    if (version) return version
    // Not in the checkout (yet), or no version tag before it: try the next.
  }
  return undefined
}

/** The checkout's remotes as configured (not rewritten by insteadOf); none when it is not a git checkout. */
export async function checkoutRemotes(checkout: string, run: StepIO['run']): Promise<{ name: string; url: string }[]> {
  // A URL there may hold a password (https://user:password@host/...), so what git prints is not shown.
  const listed = (await readCheckout(checkout, ['config', '--get-regexp', '^remote\\..*\\.url$'], run, { secretStdout: true })) ?? ''
  return listed
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [key = '', ...value] = line.split(' ')
      return { name: key.slice('remote.'.length, -'.url'.length), url: value.join(' ') }
    })
}

export interface DeriveOptions {
  target: Target
  checkout: string
  choices: PrVariantChoices
  smoke: Tester[]
  /** The deployer the PR's cluster runs on: the config's. */
  deployer: Deployer
  /** Runs the git commands that read the checkout: the runner's, as a step. */
  run: StepIO['run']
}

/** The variant to run, with every name derived or chosen; fails when the chosen or derived remote name is taken by another repository. */
export async function derivePrVariant({ target, checkout, choices, smoke, deployer, run }: DeriveOptions): Promise<PrVariant> {
  const short = target.sha.slice(0, 7)
  const notes: string[] = []
  const baseVersion = choices.tag === undefined ? await baseVersionOf(checkout, target.versionHints, run) : undefined
  const owner = target.author
  const pull = target.pull?.number
  const ref = target.ref

  let tag = choices.tag
  if (tag === undefined) {
    const stem = pull !== undefined ? `pr${pull}-${short}` : `${owner}-${short}`
    tag = dockerTag(baseVersion === undefined ? stem : `${baseVersion}-${stem}`)
    if (baseVersion === undefined) {
      const hint = target.pull ? `${target.pull.base.fullName} ${target.pull.base.ref} at ${target.pull.base.sha.slice(0, 12)}` : `the commits before ${short}`
      notes.push(`your checkout ${checkout} does not have ${hint}, so the tag cannot start with the Kubernetes version it is based on: fetch it into your checkout, or name the tag with --tag`)
    }
  }

  let cluster = choices.cluster
  if (cluster === undefined) {
    const what = ref.kind === 'pull' ? `pr${ref.number}-${owner}` : ref.kind === 'branch' ? `${ref.branch.split('/').at(-1)}-${owner}` : `${short}-${owner}`
    cluster = clusterName(what)
  }

  const remotes = await checkoutRemotes(checkout, run)
  const same = remotes.find((remote) => sameRemote(remote.url, target.remote.url))
  // Named for the owner the API gives: a clone URL need not have the owner in its path.
  const name = choices.remote ?? same?.name ?? remoteName(target.remote.owner, 'github')
  const clash = remotes.find((remote) => remote.name === name && !sameRemote(remote.url, target.remote.url))
  if (clash) {
    throw new UsageError(
      `your checkout ${checkout} has a remote "${name}" for ${clash.url}, but the code comes from ${target.remote.url}: kspawn does not change your remotes. ` +
        `Name another remote to add with --remote <name>${choices.remote === undefined ? ` (e.g. --remote ${name}-pr)` : ''}.`,
    )
  }
  const existing = remotes.some((remote) => remote.name === name)

  const variant: BuildVariant = {
    name: cluster,
    cluster,
    deployer,
    tag,
    build: { remote: target.remote.url, ref: { commit: target.sha, ...(target.fetchRef ? { via: target.fetchRef } : {}) }, remoteName: name },
    smoke,
  }
  return { variant, remote: { name, url: target.remote.url, existing }, ...(baseVersion !== undefined ? { baseVersion } : {}), notes }
}

/** A valid Docker tag from any text: other characters become "-", at most 128. */
function dockerTag(text: string): string {
  const tag = text.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[.-]+/, '').slice(0, 128)
  return tag === '' ? 'pr' : tag
}

/** A lowercase DNS label that does not end in a digit, from any text: a name every deployer takes. */
export function clusterName(text: string): string {
  let name = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, MAX_DERIVED_CLUSTER)
    .replace(/^-+|-+$/g, '')
  if (name === '') name = 'pr'
  // A deployer may number its machines after the cluster name (kube-spawn: kubespawn<cluster><index>), where a trailing digit could make two clusters' machines collide.
  if (/[0-9]$/.test(name)) name = `${name.slice(0, MAX_DERIVED_CLUSTER - 2).replace(/-+$/, '')}-x`
  return name
}
