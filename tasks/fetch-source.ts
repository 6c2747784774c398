// fetch-source: the article's `git remote add`, `git pull` and `git checkout`,
// without touching the user's checkout. The patch is fetched into the
// checkout's object store and checked out, detached at the exact commit, in a
// git worktree kspawn owns: <workdir>/worktrees/<variant>/src/k8s.io/kubernetes,
// so that <workdir>/worktrees/<variant> is the $GOPATH kube-spawn --dev reads.
// Only the checkout's remotes, objects and worktree list change; its working
// tree, index, HEAD and stash are never written.
import { readJsonFile, writeJsonFile } from '../engine/json-file.ts'
import { readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import type { GitRef, Source } from '../engine/config/config.ts'
import { StepError } from '../engine/errors.ts'
import type { Task, TaskContext } from '../engine/run/task.ts'
import { variantGopath, variantWorktree } from '../engine/run/variant-state.ts'
import { detachArgv, fetchArgv, gitCommand, gitReader, remoteAddArgv, remoteNameFor, sameRemote, worktreeAddArgv, type GitReader } from './git.ts'
import { openStep, type Step } from '../engine/run/step-io.ts'
import { exists } from './docker.ts'
import { isRemotePath } from '../engine/config/validate.ts'

/** Next to the worktree: the commit kspawn last checked out there, to tell it from a commit made there by hand. */
const RECORD_FILE = 'worktree.json'

/** The variant's $GOPATH and the worktree in it, at src/k8s.io/kubernetes. */
interface Place {
  gopath: string
  worktree: string
}

interface WorktreeRecord {
  commit: string
}

export function describeRef(ref: GitRef): string {
  if ('branch' in ref) return `branch ${ref.branch}`
  if ('tag' in ref) return `tag ${ref.tag}`
  if (ref.via !== undefined) return `commit ${ref.commit.slice(0, 12)} (${shortRefName(ref.via)})`
  return `commit ${ref.commit.slice(0, 12)}`
}

/** refs/heads/x → x, refs/pull/7/head → pull/7/head. */
function shortRefName(ref: string): string {
  return ref.replace(/^refs\/(?:heads\/)?/, '')
}

export const fetchSource: Task = {
  id: 'fetch-source',
  description: "fetch the variant's branch, tag or commit and check it out in a git worktree of kspawn's own (your checkout is left as it is)",
  title: (ctx) => (ctx.variant.build ? `Fetch ${describeRef(ctx.variant.build.ref)} into a worktree` : 'Fetch the source'),
  skip: (ctx) => (ctx.variant.build ? false : `image variant: it runs ${ctx.variant.image.ref}, there is no source to fetch`),
  async preflight(config, variant) {
    if (!variant.build) return []
    const checkout = config.kubernetes.checkout
    const where = `kubernetes.checkout in ${config.file}`
    const problems: string[] = []
    const info = await stat(checkout).catch(() => undefined)
    if (!info?.isDirectory()) {
      problems.push(`your Kubernetes checkout ${checkout} ${info ? 'is not a folder' : 'does not exist'}: clone it there (git clone https://github.com/kubernetes/kubernetes ${checkout}) or change ${where}`)
    } else if (!(await exists(path.join(checkout, '.git')))) {
      // A clone has a .git folder, a worktree of one a .git file.
      problems.push(`your Kubernetes checkout ${checkout} is not the top of a git work tree (it has no .git): clone Kubernetes there or change ${where}`)
    }
    const remote = variant.build.remote
    if (isRemotePath(remote) && !(await exists(remote))) {
      problems.push(`variants.${variant.name}.source.remote in ${config.file} is the folder ${remote}, which does not exist: give the repository's URL or path`)
    }
    return problems
  },
  async stillDone(ctx) {
    const worktree = ctx.state.worktree
    return worktree === undefined || (await exists(worktree)) ? undefined : `its worktree ${worktree} is gone`
  },
  async run(ctx, services) {
    const step = openStep('fetch-source', ctx, services)
    const source = ctx.variant.build
    if (!source) throw new StepError(`variant ${ctx.variant.name} runs the image ${ctx.variant.image.ref}: it has no source to fetch`)
    const checkout = ctx.config.kubernetes.checkout
    const place: Place = { gopath: variantGopath(ctx.config, ctx.variant), worktree: variantWorktree(ctx.config, ctx.variant) }
    // Variants run side by side on one checkout: two `git remote add` of one remote, or two fetches, must not race.
    const commit = await oneAtATime(checkout, async () => {
      const repo = await openCheckout(checkout, ctx, step)
      const remote = await ensureRemote(repo, checkout, source, step)
      const fetched = await fetchCommit(repo, checkout, remote, source, step)
      await placeWorktree(repo, checkout, place, fetched, source, step)
      return fetched
    })
    ctx.state.gopath = place.gopath
    ctx.state.worktree = place.worktree
    ctx.state.commit = commit
  },
}

/** Fetches a source into your checkout as fetch-source does, without a worktree: its commit, and a reader of the checkout to inspect it. */
export async function fetchIntoCheckout(ctx: TaskContext, source: Source, step: Step): Promise<{ commit: string; repo: GitReader }> {
  const checkout = ctx.config.kubernetes.checkout
  return oneAtATime(checkout, async () => {
    const repo = await openCheckout(checkout, ctx, step)
    const remote = await ensureRemote(repo, checkout, source, step)
    return { commit: await fetchCommit(repo, checkout, remote, source, step), repo }
  })
}

const queues = new Map<string, Promise<unknown>>()

async function oneAtATime<T>(key: string, work: () => Promise<T>): Promise<T> {
  const turn = (queues.get(key) ?? Promise.resolve()).catch(() => {}).then(work)
  queues.set(key, turn)
  try {
    return await turn
  } finally {
    if (queues.get(key) === turn) queues.delete(key)
  }
}

/** The user's checkout, checked to be the top of a git work tree. */
async function openCheckout(checkout: string, ctx: TaskContext, step: Step): Promise<GitReader> {
  const where = `kubernetes.checkout in ${ctx.config.file}`
  const info = await stat(checkout).catch(() => undefined)
  if (!info?.isDirectory()) {
    const what = info ? 'is not a folder' : 'does not exist'
    throw new StepError(`your Kubernetes checkout ${checkout} ${what}: clone it there (git clone https://github.com/kubernetes/kubernetes ${checkout}) or change ${where}`)
  }
  const repo = gitReader(checkout, step)
  const top = await repo.tryRead(['rev-parse', '--show-toplevel'])
  if (top === undefined) throw new StepError(`your Kubernetes checkout ${checkout} is not a git work tree (git rev-parse --show-toplevel fails there): clone Kubernetes there or change ${where}`)
  if ((await realpath(top)) !== (await realpath(checkout))) {
    throw new StepError(`your Kubernetes checkout ${checkout} is a folder inside the git work tree ${top}, not its top: set ${where} to ${top}`)
  }
  return repo
}

/** The name of the checkout's remote for the source's URL: one that already has that URL, else one added under the source's remoteName or the URL's owner. */
async function ensureRemote(repo: GitReader, checkout: string, source: Source, step: Step): Promise<string> {
  const url = source.remote
  // The URLs as configured: `git remote -v` would show them rewritten by url.<base>.insteadOf.
  const listed = (await repo.tryRead(['config', '--get-regexp', '^remote\\..*\\.url$'])) ?? ''
  const remotes = listed
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [key = '', ...value] = line.split(' ')
      return { name: key.slice('remote.'.length, -'.url'.length), url: value.join(' ') }
    })
  const existing = remotes.find((remote) => sameRemote(remote.url, url))
  if (existing) return existing.name

  const name = source.remoteName ?? remoteNameFor(url)
  const clash = remotes.find((remote) => remote.name === name)
  if (clash) {
    throw new StepError(
      `your checkout ${checkout} has a remote "${name}" for ${clash.url}, but the variant's source is ${url}: kspawn does not change your remotes. ` +
        `If both are the same repository, set the variant's source.remote to ${clash.url}; otherwise rename yours (git -C ${checkout} remote rename ${name} ${name}-old) and rerun.`,
    )
  }
  await step.run(gitCommand(remoteAddArgv(checkout, name, url), checkout))
  if (!step.dryRun) step.info(`added the remote ${name} (${url}) to ${checkout}`)
  return name
}

/** Fetches the source's ref and returns its commit id; in dry-run, the commit the remote has now. */
async function fetchCommit(repo: GitReader, checkout: string, remote: string, source: Source, step: Step): Promise<string> {
  const ref = source.ref
  const fetch = (refspecs: string[]) => step.run(gitCommand(fetchArgv(checkout, remote, refspecs), checkout))

  if ('branch' in ref) {
    // The remote-tracking branch the article checks out, e.g. kinvolk/alban/v1.8.5-beta.0-denyattach.
    const tracking = `refs/remotes/${remote}/${ref.branch}`
    await fetch([`+refs/heads/${ref.branch}:${tracking}`])
    if (step.dryRun) return remoteCommit(repo, source.remote, `refs/heads/${ref.branch}`, describeRef(ref))
    return repo.read(['rev-parse', '--verify', `${tracking}^{commit}`])
  }

  if ('tag' in ref) {
    const commit = await remoteCommit(repo, source.remote, `refs/tags/${ref.tag}`, describeRef(ref))
    if (await hasCommit(repo, commit)) return commit
    // Into no ref: only the objects are needed, and the user's tags stay as they are.
    await fetch([`refs/tags/${ref.tag}`])
    if (!step.dryRun && !(await hasCommit(repo, commit))) {
      throw new StepError(`tag ${ref.tag} of ${source.remote} no longer points at ${commit} after fetching it: rerun to take its new commit`)
    }
    return commit
  }

  const local = await resolveCommit(repo, ref.commit)
  if (local) return local
  if (ref.via !== undefined) return fetchCommitVia(repo, checkout, remote, source, ref.commit, ref.via, step)
  // A full id can be fetched by itself; an abbreviated one can only be found among the remote's branches.
  const full = /^[0-9a-f]{40}$/.test(ref.commit)
  await fetch(full ? [ref.commit] : [])
  if (step.dryRun) return ref.commit
  const fetched = await resolveCommit(repo, ref.commit)
  if (fetched) return fetched
  throw new StepError(`commit ${ref.commit} is not in ${source.remote}${full ? '' : "'s branches (an abbreviated id is looked for there only: give all 40 digits to fetch it by itself)"}`)
}

/**
 * Fetches the ref that leads to an exact commit (a branch, or a pull
 * request's head), and the commit by itself when the ref has moved on without
 * it (a force-push): the commit is the one kspawn was asked for, whatever the
 * ref points at now.
 */
async function fetchCommitVia(repo: GitReader, checkout: string, remote: string, source: Source, commit: string, via: string, step: Step): Promise<string> {
  const fetch = (refspecs: string[]) => step.run(gitCommand(fetchArgv(checkout, remote, refspecs), checkout))
  // A branch lands on its remote-tracking branch as the article's does; other refs (pull/N/head) in no ref, as only their objects are needed.
  const branch = via.startsWith('refs/heads/') ? via.slice('refs/heads/'.length) : undefined
  await fetch([branch === undefined ? via : `+${via}:refs/remotes/${remote}/${branch}`])
  if (step.dryRun) return commit
  if (await hasCommit(repo, commit)) {
    const tip = branch === undefined ? undefined : await repo.tryRead(['rev-parse', '--verify', '--quiet', `refs/remotes/${remote}/${branch}^{commit}`])
    if (tip !== undefined && tip !== commit) {
      step.warn(`${shortRefName(via)} of ${source.remote} has moved on to ${tip.slice(0, 12)}: the worktree is put at ${commit.slice(0, 12)}, the commit asked for`)
    }
    return commit
  }
  step.warn(`${shortRefName(via)} of ${source.remote} no longer leads to ${commit.slice(0, 12)} (force-pushed?): fetching that commit by itself`)
  await fetch([commit])
  if (await hasCommit(repo, commit)) return commit
  throw new StepError(`${source.remote} no longer has commit ${commit.slice(0, 12)}: ${shortRefName(via)} was force-pushed and the commit is gone. Rerun to take the new head.`)
}

async function remoteCommit(repo: GitReader, url: string, refName: string, what: string): Promise<string> {
  const lines = (await repo.read(['ls-remote', url, refName, `${refName}^{}`])).split('\n').filter(Boolean)
  const find = (name: string) => lines.find((line) => line.endsWith(`\t${name}`))?.split('\t')[0]
  // An annotated tag's own line names the tag object; the ^{} line names its commit.
  const commit = find(`${refName}^{}`) ?? find(refName)
  if (!commit) throw new StepError(`${url} has no ${what}: check the variant's source in the config`)
  return commit
}

async function hasCommit(repo: GitReader, commit: string): Promise<boolean> {
  return (await resolveCommit(repo, commit)) !== undefined
}

async function resolveCommit(repo: GitReader, commit: string): Promise<string | undefined> {
  return repo.tryRead(['rev-parse', '--verify', '--quiet', `${commit}^{commit}`])
}

/** Creates the worktree at commit, or moves kspawn's existing one there when nothing would be lost. */
async function placeWorktree(repo: GitReader, checkout: string, place: Place, commit: string, source: Source, step: Step): Promise<void> {
  const { worktree } = place
  const recordFile = path.join(place.gopath, RECORD_FILE)
  const short = commit.slice(0, 12)
  const registered = await findWorktree(repo, worktree)
  const entries = await readdir(worktree).catch(() => undefined)

  if (!registered || entries === undefined) {
    if (entries !== undefined && entries.length > 0) {
      throw new StepError(
        `${worktree} exists but is not a git worktree of your checkout ${checkout}, and kspawn keeps the variant's worktree there: move it away (or remove it: rm -rf ${worktree}) and rerun`,
      )
    }
    // git still lists a worktree whose folder was removed; --force takes the path over.
    await step.run(gitCommand(worktreeAddArgv(checkout, worktree, commit, { force: registered !== undefined }), checkout))
    if (step.dryRun) return
    await writeRecord(recordFile, { commit })
    step.info(`worktree ${worktree} at ${short} (${describeRef(source.ref)} of ${source.remote})`)
    return
  }

  const tree = gitReader(worktree, step)
  const head = await tree.read(['rev-parse', 'HEAD'])
  const status = await tree.status()
  // As `git status --short` shows them: index, then working tree.
  const changed = status.files.map((file) => `    ${file.index}${file.working_dir} ${file.path}`)
  const shown = changed.length > 10 ? [...changed.slice(0, 10), `    ... and ${changed.length - 10} more`] : changed

  if (head === commit) {
    if (!status.isClean()) step.warn(`the worktree ${worktree} has local changes, which the build will include:\n${shown.join('\n')}`)
    step.info(`worktree ${worktree} already at ${short} (${describeRef(source.ref)} of ${source.remote})`)
    return
  }
  if (!status.isClean()) {
    throw new StepError(
      [
        `the worktree ${worktree} has local changes, and ${describeRef(source.ref)} is now at ${short} while the worktree is at ${head.slice(0, 12)}: kspawn does not overwrite them.`,
        ...shown,
        `  Commit or stash them there (git -C ${worktree} stash), or discard them, and rerun.`,
      ].join('\n'),
    )
  }
  const record = await readRecord(recordFile)
  if (record?.commit !== head) {
    // HEAD moved since kspawn checked it out: moving it on would orphan a commit made there, unless a ref keeps it.
    const kept = await tree.read(['for-each-ref', '--contains', head, '--count=1', '--format=%(refname)'])
    if (kept === '') {
      throw new StepError(
        `the worktree ${worktree} is at ${head.slice(0, 12)}, a commit that no branch or tag contains (made there by hand?): moving it to ${short} would lose it. ` +
          `Keep it on a branch first (git -C ${worktree} branch <name>) and rerun.`,
      )
    }
  }
  await step.run(gitCommand(detachArgv(worktree, commit), worktree))
  if (step.dryRun) return
  await writeRecord(recordFile, { commit })
  step.info(`worktree ${worktree} moved from ${head.slice(0, 12)} to ${short} (${describeRef(source.ref)} of ${source.remote})`)
}

/** The worktree entry git keeps for that path, if any. */
async function findWorktree(repo: GitReader, worktree: string): Promise<{ path: string } | undefined> {
  const listed = await repo.read(['worktree', 'list', '--porcelain'])
  const paths = listed
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .map((line) => line.slice('worktree '.length))
  const wanted = await canonical(worktree)
  for (const candidate of paths) if ((await canonical(candidate)) === wanted) return { path: candidate }
  return undefined
}

/** The path with symbolic links resolved as far as it exists, so that git's spelling and kspawn's compare equal. */
async function canonical(file: string): Promise<string> {
  const resolved = path.resolve(file)
  const real = await realpath(resolved).catch(() => undefined)
  if (real !== undefined) return real
  const parent = path.dirname(resolved)
  return parent === resolved ? resolved : path.join(await canonical(parent), path.basename(resolved))
}

async function readRecord(file: string): Promise<WorktreeRecord | undefined> {
  const record = await readJsonFile<WorktreeRecord>(file, ['commit'])
  return record && { commit: record.commit }
}

function writeRecord(file: string, record: WorktreeRecord): Promise<void> {
  return writeJsonFile(file, record)
}
