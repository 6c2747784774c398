// Response bodies in the shapes GitHub's REST API gives them, typed against
// GitHub's own OpenAPI description so that a misnamed field fails to compile.
import { createHash } from 'node:crypto'
import type { components } from '@octokit/openapi-types'
import type { CommitInfo } from './git.ts'

type Schemas = components['schemas']
/** Every field optional, at any depth: the emulator fills what clients read, named and typed as GitHub does. */
export type Shape<T> = T extends (infer U)[] ? Shape<U>[] : T extends object ? { [K in keyof T]?: Shape<T[K]> } : T

/** Where the emulator's API and web pages live, like https://api.github.com and https://github.com. */
export interface Urls {
  api: string
  web: string
}

export interface RepoRecord {
  owner: string
  name: string
  /** The bare repository on disk: the clone URL. */
  path: string
  private: boolean
  defaultBranch: string
  /** Owner and name of the repository it was forked from. */
  parent?: string
}

export interface CommentRecord {
  id: number
  owner: string
  repo: string
  issue: number
  body: string
  login: string
  createdAt: string
  updatedAt: string
}

/** Stable ids, so that the same name always gets the same id. */
export function idOf(kind: string, name: string): number {
  return createHash('sha256').update(`${kind}:${name.toLowerCase()}`).digest().readUInt32BE(0) % 100_000_000
}

const nodeId = (kind: string, id: number) => Buffer.from(`${kind}${id}`).toString('base64')

export function user(urls: Urls, login: string): Shape<Schemas['simple-user']> {
  const id = idOf('user', login)
  return {
    login,
    id,
    node_id: nodeId('04:User', id),
    avatar_url: `${urls.web}/${login}.png`,
    gravatar_id: '',
    url: `${urls.api}/users/${login}`,
    html_url: `${urls.web}/${login}`,
    type: 'User',
    site_admin: false,
  }
}

/** GET /user: the token's own account, with the profile and counts GitHub adds for its owner. */
export function authenticatedUser(urls: Urls, login: string): Shape<Schemas['private-user']> {
  return {
    ...user(urls, login),
    name: null,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 1,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: '2014-06-06T22:56:04Z',
    updated_at: '2017-12-01T10:00:00Z',
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
  }
}

export function repository(urls: Urls, repo: RepoRecord): Shape<Schemas['repository']> {
  const fullName = `${repo.owner}/${repo.name}`
  const id = idOf('repo', fullName)
  const host = new URL(urls.web).host
  return {
    id,
    node_id: nodeId('010:Repository', id),
    name: repo.name,
    full_name: fullName,
    private: repo.private,
    visibility: repo.private ? 'private' : 'public',
    owner: user(urls, repo.owner),
    html_url: `${urls.web}/${fullName}`,
    description: null,
    fork: repo.parent !== undefined,
    url: `${urls.api}/repos/${fullName}`,
    clone_url: repo.path,
    git_url: `git://${host}/${fullName}.git`,
    ssh_url: `git@${host}:${fullName}.git`,
    default_branch: repo.defaultBranch,
    archived: false,
    disabled: false,
    created_at: '2014-06-06T22:56:04Z',
    updated_at: '2017-12-01T10:00:00Z',
    pushed_at: '2017-12-01T10:00:00Z',
  }
}

export function commit(urls: Urls, repo: RepoRecord, info: CommitInfo): Shape<Schemas['commit']> {
  const base = `${urls.api}/repos/${repo.owner}/${repo.name}`
  const additions = info.files.reduce((sum, file) => sum + file.additions, 0)
  const deletions = info.files.reduce((sum, file) => sum + file.deletions, 0)
  return {
    sha: info.sha,
    node_id: nodeId('06:Commit', idOf('commit', info.sha)),
    url: `${base}/commits/${info.sha}`,
    html_url: `${urls.web}/${repo.owner}/${repo.name}/commit/${info.sha}`,
    comments_url: `${base}/commits/${info.sha}/comments`,
    commit: {
      url: `${base}/git/commits/${info.sha}`,
      author: info.author,
      committer: info.committer,
      message: info.message,
      tree: { sha: info.tree, url: `${base}/git/trees/${info.tree}` },
      comment_count: 0,
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    },
    // GitHub links commits to accounts by email; the fixture's emails belong to none.
    author: null,
    committer: null,
    parents: info.parents.map((sha) => ({ sha, url: `${base}/commits/${sha}`, html_url: `${urls.web}/${repo.owner}/${repo.name}/commit/${sha}` })),
    stats: { total: additions + deletions, additions, deletions },
    files: info.files.map((file) => ({
      sha: null,
      filename: file.filename,
      status: file.status,
      additions: file.additions,
      deletions: file.deletions,
      changes: file.additions + file.deletions,
      blob_url: `${urls.web}/${repo.owner}/${repo.name}/blob/${info.sha}/${file.filename}`,
      raw_url: `${urls.web}/${repo.owner}/${repo.name}/raw/${info.sha}/${file.filename}`,
      contents_url: `${base}/contents/${file.filename}?ref=${info.sha}`,
    })),
  }
}

export function branch(urls: Urls, repo: RepoRecord, name: string, info: CommitInfo): Shape<Schemas['branch-with-protection']> {
  const base = `${urls.api}/repos/${repo.owner}/${repo.name}`
  const { stats: _stats, files: _files, ...head } = commit(urls, repo, info)
  return {
    name,
    commit: head,
    _links: { self: `${base}/branches/${encodeURIComponent(name)}`, html: `${urls.web}/${repo.owner}/${repo.name}/tree/${name}` },
    protected: false,
    protection: { enabled: false, required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] } },
    protection_url: `${base}/branches/${encodeURIComponent(name)}/protection`,
  }
}

export interface PullSide {
  repo: RepoRecord
  /** null when the head repository was deleted. */
  shown: RepoRecord | null
  ref: string
  sha: string
}

export interface PullView {
  number: number
  title: string
  body: string
  login: string
  state: 'open' | 'closed'
  merged: boolean
  draft: boolean
  head: PullSide
  base: PullSide
  /** How many commits the PR has: those on its head that its base branch lacks. */
  commits: number
}

type PullRequest = Schemas['pull-request']
/** GitHub's description has head.repo non-null, yet GitHub sends null once the head fork is deleted. */
type PullSideShape = Shape<Omit<PullRequest['head'], 'repo'>> & { repo: Shape<Schemas['repository']> | null }

export function pull(urls: Urls, view: PullView): Shape<Omit<PullRequest, 'head' | 'base'>> & { head: PullSideShape; base: PullSideShape } {
  const { owner, name } = view.base.repo
  const base = `${urls.api}/repos/${owner}/${name}`
  const id = idOf('pull', `${owner}/${name}#${view.number}`)
  const closedAt = view.state === 'closed' ? '2017-12-02T10:00:00Z' : null
  const side = (part: PullSide): PullSideShape => ({
    label: `${part.repo.owner}:${part.ref}`,
    ref: part.ref,
    sha: part.sha,
    user: user(urls, part.repo.owner),
    repo: part.shown === null ? null : repository(urls, part.shown),
  })
  return {
    url: `${base}/pulls/${view.number}`,
    id,
    node_id: nodeId('011:PullRequest', id),
    html_url: `${urls.web}/${owner}/${name}/pull/${view.number}`,
    diff_url: `${urls.web}/${owner}/${name}/pull/${view.number}.diff`,
    patch_url: `${urls.web}/${owner}/${name}/pull/${view.number}.patch`,
    issue_url: `${base}/issues/${view.number}`,
    commits_url: `${base}/pulls/${view.number}/commits`,
    comments_url: `${base}/issues/${view.number}/comments`,
    statuses_url: `${base}/statuses/${view.head.sha}`,
    number: view.number,
    state: view.state,
    locked: false,
    title: view.title,
    user: user(urls, view.login),
    body: view.body,
    labels: [],
    created_at: '2017-12-01T10:00:00Z',
    updated_at: '2017-12-01T10:00:00Z',
    closed_at: closedAt,
    merged_at: view.merged ? closedAt : null,
    merge_commit_sha: null,
    draft: view.draft,
    head: side(view.head),
    base: side(view.base),
    author_association: 'CONTRIBUTOR',
    merged: view.merged,
    mergeable: view.state === 'open' ? true : null,
    mergeable_state: view.state === 'open' ? 'clean' : 'unknown',
    comments: 0,
    review_comments: 0,
    commits: view.commits,
    maintainer_can_modify: false,
  }
}

export function comment(urls: Urls, record: CommentRecord): Shape<Schemas['issue-comment']> {
  const base = `${urls.api}/repos/${record.owner}/${record.repo}`
  return {
    id: record.id,
    node_id: nodeId('012:IssueComment', record.id),
    url: `${base}/issues/comments/${record.id}`,
    html_url: `${urls.web}/${record.owner}/${record.repo}/pull/${record.issue}#issuecomment-${record.id}`,
    issue_url: `${base}/issues/${record.issue}`,
    body: record.body,
    user: user(urls, record.login),
    created_at: record.createdAt,
    updated_at: record.updatedAt,
    author_association: 'CONTRIBUTOR',
    performed_via_github_app: null,
  }
}
