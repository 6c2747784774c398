// What `kspawn pr` is pointed at: a pull request, a commit or a branch on
// GitHub (or a GitHub Enterprise server), parsed once at the edge so that
// nothing runs before the argument is understood.
import { UsageError } from '../engine/errors.ts'
import { branchNameProblem, isCommitId } from '../engine/config/validate.ts'

export type GitHubRef =
  | { kind: 'pull'; owner: string; repo: string; number: number; commit?: string }
  | { kind: 'commit'; owner: string; repo: string; sha: string }
  | { kind: 'branch'; owner: string; repo: string; branch: string }

export interface ParseGitHubRefOptions {
  /** Host names of GitHub Enterprise servers whose web URLs are accepted besides github.com, e.g. `github.example.com`. */
  webHosts?: string[]
  /** How the argument is named in messages. */
  argument?: string
}

const ACCEPTED_FORMS = [
  'https://github.com/OWNER/REPO/pull/N (also with /files, /commits, a query or a fragment)',
  'OWNER/REPO#N',
  'https://github.com/OWNER/REPO/commit/SHA (7 to 40 hex digits)',
  'https://github.com/OWNER/REPO/pull/N/commits/SHA',
  'https://github.com/OWNER/REPO/tree/BRANCH',
] as const

const GITHUB_HOSTS = ['github.com', 'www.github.com']

/** Parses a GitHub web URL or `OWNER/REPO#N`; anything else is a UsageError that lists the accepted forms. */
export function parseGitHubRef(input: string, options: ParseGitHubRefOptions = {}): GitHubRef {
  const webHosts = (options.webHosts ?? []).map((host) => host.toLowerCase())
  const fail = (reason: string): never => {
    const enterprise = webHosts.length > 0 ? [`  (github.com may also be ${webHosts.join(' or ')})`] : []
    throw new UsageError(
      [
        `${options.argument ?? '<url>'}: expected a GitHub pull request, commit or branch, found "${input}" (${reason})`,
        'Accepted forms:',
        ...ACCEPTED_FORMS.map((form) => `  ${form}`),
        ...enterprise,
      ].join('\n'),
    )
  }

  const trimmed = input.trim()
  const shorthand = /^([^/#\s]+)\/([^/#\s]+)#([^/#\s]*)$/.exec(trimmed)
  if (shorthand) {
    const [, owner = '', repo = '', number = ''] = shorthand
    return { kind: 'pull', ...names(owner, repo, fail), number: pullNumber(number, fail) }
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return fail('it is neither a URL nor OWNER/REPO#N')

  let url: URL
  try {
    url = new URL(trimmed)
  } catch {
    return fail('it is not a valid URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail(`the scheme "${url.protocol.slice(0, -1)}" is not http or https`)
  const host = url.host.toLowerCase()
  if (!GITHUB_HOSTS.includes(host) && !webHosts.includes(host)) {
    return fail(webHosts.length > 0 ? `the host "${url.host}" is neither github.com nor ${webHosts.join(', ')}` : `the host "${url.host}" is not github.com, and no GitHub Enterprise host is configured`)
  }

  const segments = url.pathname.split('/').slice(1)
  // A trailing slash leaves an empty last segment that names nothing.
  if (segments.at(-1) === '') segments.pop()
  const [owner = '', repo = '', kind, ...rest] = segments
  if (!owner || !repo) return fail(`the path "${url.pathname}" names no repository`)
  const repository = names(decode(owner, fail), decode(repo, fail), fail)

  if (kind === 'pull') {
    const [number = '', page, sha, ...extra] = rest
    const pull = { kind: 'pull' as const, ...repository, number: pullNumber(number, fail) }
    if (page === undefined) return pull
    if ((page === 'files' || page === 'commits') && sha === undefined) return pull
    if (page === 'commits' && sha !== undefined && extra.length === 0) return { ...pull, commit: commitId(sha, fail) }
    return fail(`"/${rest.slice(1).join('/')}" after the pull request number is not /files, /commits or /commits/SHA`)
  }
  if (kind === 'commit') {
    const [sha = '', ...extra] = rest
    if (extra.length > 0) return fail(`"/${extra.join('/')}" follows the commit SHA`)
    return { kind: 'commit', ...repository, sha: commitId(sha, fail) }
  }
  if (kind === 'tree') {
    // Branch names contain slashes, so everything after /tree/ is the branch.
    const branch = decode(rest.join('/'), fail)
    const problem = branchNameProblem(branch)
    if (problem !== undefined) return fail(`the branch name "${branch}" is not valid: ${problem}`)
    return { kind: 'branch', ...repository, branch }
  }
  return fail(kind === undefined ? `it is a repository, not a pull request, commit or branch` : `"/${kind}" pages are not pull requests, commits or branches`)
}

/**
 * A GitHub account name: letters, digits and single hyphens, neither first nor
 * last, at most 39 characters.
 */
export function ownerNameProblem(name: string): string | undefined {
  if (name.length > 39) return `it is ${name.length} characters long, more than 39`
  const bad = /[^A-Za-z0-9-]/.exec(name)
  if (bad) return `it contains "${bad[0]}"`
  if (name.startsWith('-') || name.endsWith('-')) return 'it starts or ends with "-"'
  if (name.includes('--')) return 'it contains "--"'
  return undefined
}

/** A GitHub repository name: letters, digits, ".", "-" and "_", at most 100 characters, not "." or "..". */
export function repoNameProblem(name: string): string | undefined {
  if (name.length > 100) return `it is ${name.length} characters long, more than 100`
  const bad = /[^A-Za-z0-9._-]/.exec(name)
  if (bad) return `it contains "${bad[0]}"`
  if (name === '.' || name === '..') return `it is "${name}"`
  return undefined
}

function names(owner: string, repo: string, fail: (reason: string) => never): { owner: string; repo: string } {
  const ownerProblem = ownerNameProblem(owner)
  if (ownerProblem !== undefined) fail(`the owner "${owner}" is not a GitHub account name: ${ownerProblem}`)
  const repoProblem = repoNameProblem(repo)
  if (repoProblem !== undefined) fail(`the repository "${repo}" is not a GitHub repository name: ${repoProblem}`)
  return { owner, repo }
}

function pullNumber(text: string, fail: (reason: string) => never): number {
  const number = Number(text)
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(number)) fail(`the pull request number "${text}" is not a positive whole number`)
  return number
}

/** SHAs in GitHub URLs are case-insensitive; git and the API want lower case. */
function commitId(text: string, fail: (reason: string) => never): string {
  if (!isCommitId(text)) fail(`the commit "${text}" is not 7 to 40 hex digits`)
  return text.toLowerCase()
}

function decode(text: string, fail: (reason: string) => never): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return fail(`"${text}" is not valid percent-encoding`)
  }
}

/** The API of github.com; `--github-api` or `github.api` in the config name a GitHub Enterprise server's. */
export const DEFAULT_API = 'https://api.github.com'

/** Where the web pages of the GitHub behind an API URL are: api.github.com → github.com, https://ghe.example.com/api/v3 → ghe.example.com. */
export function webHostOf(api: string): string {
  const host = new URL(api).host.toLowerCase()
  return host.startsWith('api.') ? host.slice('api.'.length) : host
}

/** Why a string is not a GitHub API base URL, or undefined. */
export function apiUrlProblem(url: string): string | undefined {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'it is not a URL'
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return `the scheme "${parsed.protocol.slice(0, -1)}" is not http or https`
  if (parsed.search !== '' || parsed.hash !== '') return 'it has a query or a fragment'
  if (parsed.username !== '' || parsed.password !== '') return 'it holds credentials; give the token in GITHUB_TOKEN instead'
  return undefined
}

/** Whether a URL carries a user name or password, which messages must not repeat. */
export function hasCredentials(url: string): boolean {
  try {
    const parsed = new URL(url)
    return parsed.username !== '' || parsed.password !== ''
  } catch {
    return /\/\/[^/]*@/.test(url)
  }
}

/** The API URL without a trailing slash, as Octokit's baseUrl wants it. */
export function normalApiUrl(url: string): string {
  return url.replace(/\/+$/, '')
}

/**
 * The API to ask: --github-api for every URL; else github.com URLs go to
 * api.github.com, and URLs on the configured server's host (and OWNER/REPO#N)
 * to github.api from the config.
 */
export function apiForUrl(url: string, flagApi: string | undefined, configApi: string | undefined): string {
  if (flagApi !== undefined) return flagApi
  if (configApi === undefined) return DEFAULT_API
  // parseGitHubRef has accepted it: OWNER/REPO#N, or a URL.
  const host = url.includes('://') ? new URL(url.trim()).host.toLowerCase() : undefined
  return host === 'github.com' || host === 'www.github.com' ? DEFAULT_API : configApi
}
