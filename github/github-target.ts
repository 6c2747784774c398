// What a GitHub URL names, resolved through the API into what kspawn fetches:
// the repository to fetch from, the exact commit, and the ref that leads to it.
// The commit is fixed here, once: whatever the branch does afterwards, the
// worktree is put at this commit.
import type { Octokit } from '@octokit/rest'
import { UsageError } from '../engine/errors.ts'
import { explainFailure, githubMessage, type GitHubToken } from './github.ts'
import type { GitHubRef } from './github-url.ts'

export interface Target {
  ref: GitHubRef
  /** e.g. `pull request #101 of kubernetes/kubernetes, "Add DenyAttach"`. */
  title: string
  /** The page on GitHub. */
  htmlUrl: string
  /** The exact commit to build, 40 hex digits. */
  sha: string
  /** The repository to fetch from. */
  remote: { url: string; owner: string }
  /** The ref of that repository that leads to the commit: refs/heads/<branch> or refs/pull/<N>/head; none for a commit URL. */
  fetchRef?: string
  /** Where the code came from, for the plan: `kinvolk/kubernetes alban/v1.8.5-beta.0-denyattach at 0123456789ab`. */
  from: string
  /** Whose code it is, for names: the head owner of a pull request (also when its fork is gone), else the repository's owner. */
  author: string
  /** Commits whose nearest version tag is the version the code is based on, most telling first. */
  versionHints: string[]
  /** For a pull request. */
  pull?: PullInfo
  /** Said before any work starts, e.g. that the pull request is closed. */
  warnings: string[]
}

export interface PullInfo {
  number: number
  owner: string
  repo: string
  state: 'open' | 'closed'
  merged: boolean
  base: { fullName: string; ref: string; sha: string }
}

export interface ResolveOptions {
  octokit: Octokit
  api: string
  token?: GitHubToken
}

/** Asks GitHub what the URL names; fails with a message that says what went wrong and what to do. */
export async function resolveTarget(ref: GitHubRef, options: ResolveOptions): Promise<Target> {
  if (ref.kind === 'pull') return resolvePull(ref, options)
  if (ref.kind === 'commit') return resolveCommit(ref, options)
  return resolveBranch(ref, options)
}

async function ask<T>(call: () => Promise<{ data: T }>, context: { what: string; missing: string }, options: ResolveOptions): Promise<T> {
  try {
    return (await call()).data
  } catch (error) {
    throw explainFailure(error, { ...context, api: options.api, ...(options.token ? { token: options.token } : {}) })
  }
}

async function resolvePull(ref: Extract<GitHubRef, { kind: 'pull' }>, options: ResolveOptions): Promise<Target> {
  const { octokit } = options
  const { owner, repo, number } = ref
  const name = `pull request #${number} of ${owner}/${repo}`
  const pull = await ask(() => octokit.rest.pulls.get({ owner, repo, pull_number: number }), { what: `read ${name}`, missing: `no pull request #${number} in ${owner}/${repo}` }, options)
  const warnings: string[] = []
  const head = pull.head
  const headRepo = head.repo as typeof head.repo | null
  let sha = head.sha
  if (ref.commit !== undefined) {
    const commits = await ask(
      async () => ({ data: await octokit.paginate(octokit.rest.pulls.listCommits, { owner, repo, pull_number: number, per_page: 100 }) }),
      { what: `list the commits of ${name}`, missing: `no pull request #${number} in ${owner}/${repo}` },
      options,
    )
    const commit = commits.find((candidate) => candidate.sha.startsWith(ref.commit!))
    if (commit === undefined) {
      throw new UsageError(`<url>: commit ${ref.commit} is not one of the ${commits.length} commits of ${name}: check the URL (or give the commit as https://github.com/OWNER/REPO/commit/SHA)`)
    }
    sha = commit.sha
  }
  if (pull.state === 'closed') {
    const merged = pull.merged ? 'merged' : 'closed without being merged'
    warnings.push(`${name} is ${merged}: kspawn runs its commit ${sha.slice(0, 12)} as it was, which may not be what ${pull.base.ref} has now`)
  }
  const headOwner = headRepo?.owner.login ?? head.user?.login ?? head.label.split(':')[0] ?? owner
  const fromFork = headRepo != null
  if (!fromFork) {
    warnings.push(`the repository ${name} came from (${head.label}) is gone: kspawn fetches pull/${number}/head from ${pull.base.repo.full_name} instead`)
  }
  const headSha = sha === head.sha ? `at ${sha.slice(0, 12)}` : `at ${sha.slice(0, 12)} (the pull request's head is ${head.sha.slice(0, 12)})`
  return {
    ref,
    title: `${name}, ${JSON.stringify(pull.title)}`,
    htmlUrl: pull.html_url,
    sha,
    remote: fromFork ? { url: headRepo.clone_url, owner: headOwner } : { url: pull.base.repo.clone_url, owner: pull.base.repo.owner.login },
    fetchRef: fromFork ? `refs/heads/${head.ref}` : `refs/pull/${number}/head`,
    from: fromFork ? `${headRepo.full_name} ${head.ref} ${headSha}` : `${pull.base.repo.full_name} pull/${number}/head ${headSha}`,
    author: headOwner,
    versionHints: [pull.base.sha, sha],
    pull: {
      number,
      owner,
      repo,
      state: pull.state === 'closed' ? 'closed' : 'open',
      merged: pull.merged,
      base: { fullName: pull.base.repo.full_name, ref: pull.base.ref, sha: pull.base.sha },
    },
    warnings,
  }
}

async function readRepository(owner: string, repo: string, options: ResolveOptions) {
  return ask(() => options.octokit.rest.repos.get({ owner, repo }), { what: `read the repository ${owner}/${repo}`, missing: `no repository ${owner}/${repo}` }, options)
}

async function resolveCommit(ref: Extract<GitHubRef, { kind: 'commit' }>, options: ResolveOptions): Promise<Target> {
  const { owner, repo, sha: wanted } = ref
  const repository = await readRepository(owner, repo, options)
  let commit
  try {
    commit = (await options.octokit.rest.repos.getCommit({ owner, repo, ref: wanted, per_page: 1 })).data
  } catch (error) {
    // GitHub answers 422 "No commit found for SHA" for a commit the repository does not have.
    if ((error as { status?: number }).status === 422) {
      throw new UsageError(`${owner}/${repo} has no commit ${wanted} (GitHub: ${githubMessage(error as Error)}): check the URL`, { cause: error })
    }
    throw explainFailure(error, { what: `read commit ${wanted} of ${owner}/${repo}`, missing: `no commit ${wanted} in ${owner}/${repo}`, api: options.api, ...(options.token ? { token: options.token } : {}) })
  }
  const title = commit.commit.message.split('\n')[0] ?? ''
  return {
    ref,
    title: `commit ${commit.sha.slice(0, 12)} of ${owner}/${repo}, ${JSON.stringify(title)}`,
    htmlUrl: commit.html_url,
    sha: commit.sha,
    remote: { url: repository.clone_url, owner: repository.owner.login },
    from: `${repository.full_name} at ${commit.sha.slice(0, 12)}`,
    author: repository.owner.login,
    versionHints: [commit.sha, ...commit.parents.map((parent) => parent.sha)],
    warnings: [],
  }
}

async function resolveBranch(ref: Extract<GitHubRef, { kind: 'branch' }>, options: ResolveOptions): Promise<Target> {
  const { owner, repo, branch } = ref
  const repository = await readRepository(owner, repo, options)
  const found = await ask(
    () => options.octokit.rest.repos.getBranch({ owner, repo, branch }),
    { what: `read the branch ${branch} of ${owner}/${repo}`, missing: `no branch ${branch} in ${owner}/${repo}` },
    options,
  )
  const commit = found.commit
  return {
    ref,
    title: `branch ${branch} of ${owner}/${repo}, at ${commit.sha.slice(0, 12)}`,
    htmlUrl: `${repository.html_url}/tree/${branch}`,
    sha: commit.sha,
    remote: { url: repository.clone_url, owner: repository.owner.login },
    fetchRef: `refs/heads/${branch}`,
    from: `${repository.full_name} ${branch} at ${commit.sha.slice(0, 12)}`,
    author: repository.owner.login,
    versionHints: [commit.sha, ...commit.parents.map((parent) => parent.sha)],
    warnings: [],
  }
}
