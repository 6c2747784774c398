// A GitHub REST API emulator for the test world: repositories, pull requests,
// commits and branches read from the world's real bare repositories, issue
// comments kept in memory, GitHub's error answers and rate-limit headers, and
// faults a test injects. Point Octokit's baseUrl at `url`.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DOCS, badCredentials, githubError, notFound, rateLimited, requiresAuthentication, secondaryRateLimited, serverError, type ErrorReply } from './errors.ts'
import { listCommits, readCommit, resolveBranch, resolveCommit, syncPullRef } from './git.ts'
import * as shapes from './shapes.ts'
import type { CommentRecord, RepoRecord, Urls } from './shapes.ts'

export interface RepoSpec {
  owner: string
  name: string
  /** The bare repository: its path is the clone_url the API answers with. */
  path: string
  private?: boolean
  /** Defaults to master, the fixture's default branch. */
  defaultBranch?: string
  /** `owner/name` of the repository it is a fork of. */
  parent?: string
  /** The repository was deleted: the API answers 404 for it and PRs from it have `head.repo: null`. Its path still holds the commits. */
  deleted?: boolean
}

export interface PullSpec {
  number: number
  /** `owner/name` and branch the PR is opened against. */
  base: { repo: string; ref: string }
  /** `owner/name` and branch the PR's commits come from. */
  head: { repo: string; ref: string }
  title?: string
  body?: string
  /** Who opened it; defaults to the head repository's owner. */
  login?: string
  state?: 'open' | 'closed'
  merged?: boolean
  draft?: boolean
}

export interface TokenSpec {
  login: string
  /** Whether it may create and update comments (a token with the right scope); defaults to true. */
  write?: boolean
}

/**
 * The next `times` requests to `path` (decoded, without query) fail: with
 * `status` and GitHub's answer for it, or on the network (`kind`).
 */
export type Fault = StatusFault | NetworkFault

export interface NetworkFault {
  path: string
  method?: string
  /** reset: the connection is dropped without an answer; hang: the request is never answered (until close()). */
  kind: 'reset' | 'hang'
  /** Defaults to 1. */
  times?: number
}

export interface StatusFault {
  path: string
  method?: string
  kind?: undefined
  status: number
  /** Defaults to 1. */
  times?: number
  /** For 403: a secondary rate limit (retry-after) rather than the exhausted primary one. */
  secondary?: boolean
  /** Seconds in retry-after for secondary rate limits and 429; defaults to 60. */
  retryAfter?: number
}

export interface GitHubOptions {
  repos: RepoSpec[]
  pulls?: PullSpec[]
  /** Accepted tokens; the Authorization header must carry one of them, or none for anonymous access. */
  tokens?: Record<string, TokenSpec>
  /** Requests per hour, like GitHub's 60 anonymous and 5000 authenticated. */
  rateLimit?: { anonymous?: number; authenticated?: number }
  /** The web base for html_url fields; defaults to https://github.com. 'self' is the emulator's own base URL, as an Enterprise server's web host. */
  webUrl?: string
  /** Receives one line per request: method, path, status and who asked; never a token. */
  log?: (line: string) => void
}

export interface RequestRecord {
  method: string
  path: string
  /** 0 for a request answered by a network fault. */
  status: number
  /** The token's login; undefined for anonymous requests and bad credentials. */
  login?: string
}

export interface GitHubState {
  repos: RepoSpec[]
  pulls: PullSpec[]
  comments: CommentRecord[]
  requests: RequestRecord[]
  /** Faults still to be served, oldest first. */
  faults: Fault[]
  fail(fault: Fault): void
}

export interface GitHub {
  /** The API base URL, like https://api.github.com. */
  url: string
  /** The web base URL of html_url fields, like https://github.com. */
  web: string
  state: GitHubState
  close(): Promise<void>
}

interface Reply {
  status: number
  body: unknown
  headers?: Record<string, string>
  exhausted?: boolean
}

interface Caller {
  login?: string
  write: boolean
}

interface Limit {
  limit: number
  used: number
  reset: number
}

export async function startGitHub(options: GitHubOptions): Promise<GitHub> {
  const state: GitHubState = {
    repos: [...options.repos],
    pulls: [...(options.pulls ?? [])],
    comments: [],
    requests: [],
    faults: [],
    fail(fault) {
      state.faults.push({ times: 1, ...fault })
    },
  }
  const tokens = new Map(Object.entries(options.tokens ?? {}))
  const limits = new Map<string, Limit>()
  const urls: Urls = { api: '', web: (options.webUrl ?? 'https://github.com').replace(/\/$/, '') }
  /** Responses a hang fault holds, ended by close(). */
  const hung = new Set<ServerResponse>()
  /** The last refresh of each refs/pull/N/head, so that concurrent requests for one PR update it one at a time. */
  const refreshes = new Map<string, Promise<unknown>>()
  let requestCount = 0
  let nextCommentId = 1_000_000_001

  // GitHub keeps refs/pull/N/head in the base repository, which is how a PR whose fork is gone can still be fetched.
  for (const spec of state.pulls) await syncPull(spec)

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, { status: 500, body: { message: String(error) } }, undefined)
      else response.destroy()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  urls.api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  if (options.webUrl === 'self') urls.web = urls.api

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET'
    const url = new URL(request.url ?? '/', urls.api)
    const segments = url.pathname.split('/').slice(1).map((segment) => decodeURIComponent(segment))
    const path = '/' + segments.join('/')
    const requestId = `C0DE:${(++requestCount).toString(16).toUpperCase()}:${process.pid.toString(16).toUpperCase()}`

    const caller = authenticate(request.headers.authorization)
    const login = caller === 'bad' ? undefined : caller.login
    const network = takeNetworkFault(method, path)
    if (network !== undefined) {
      state.requests.push({ method, path, status: 0, ...(login !== undefined ? { login } : {}) })
      options.log?.(`${method} ${path} (${network}) ${caller === 'bad' ? '(bad credentials)' : (login ?? '(anonymous)')}`)
      if (network === 'reset') request.socket.destroy()
      else {
        hung.add(response)
        response.on('close', () => hung.delete(response))
      }
      return
    }
    const limit = limitOf(caller === 'bad' ? undefined : caller)
    let reply: Reply
    if (caller === 'bad') reply = badCredentials()
    else if (limit.used >= limit.limit) reply = rateLimited(caller.login === undefined ? undefined : String(shapes.idOf('user', caller.login)))
    else reply = takeFault(method, path, caller, requestId) ?? (await route(method, segments, url, caller, request))
    limit.used = Math.min(limit.limit, limit.used + 1)

    state.requests.push({ method, path, status: reply.status, ...(login !== undefined ? { login } : {}) })
    options.log?.(`${method} ${path} ${reply.status} ${caller === 'bad' ? '(bad credentials)' : (login ?? '(anonymous)')}`)
    send(response, { ...reply, headers: { 'x-github-request-id': requestId, ...reply.headers } }, limit)
  }

  function authenticate(header: string | undefined): Caller | 'bad' {
    if (header === undefined) return { write: false }
    const token = /^(?:token|bearer)\s+(\S+)$/i.exec(header)?.[1]
    const spec = token === undefined ? undefined : tokens.get(token)
    return spec === undefined ? 'bad' : { login: spec.login, write: spec.write ?? true }
  }

  function limitOf(caller: Caller | undefined): Limit {
    const key = caller?.login ?? '(anonymous)'
    let limit = limits.get(key)
    if (limit === undefined) {
      const perHour = caller?.login === undefined ? (options.rateLimit?.anonymous ?? 60) : (options.rateLimit?.authenticated ?? 5000)
      limit = { limit: perHour, used: 0, reset: Math.floor(Date.now() / 1000) + 3600 }
      limits.set(key, limit)
    }
    return limit
  }

  /** The first fault for this request, taken (counted down) if `wanted` accepts it. */
  function takeMatching<F extends Fault>(method: string, path: string, wanted: (fault: Fault) => fault is F): F | undefined {
    const fault = state.faults.find((candidate) => candidate.path === path && (candidate.method === undefined || candidate.method.toUpperCase() === method))
    if (fault === undefined || !wanted(fault)) return undefined
    fault.times = (fault.times ?? 1) - 1
    if (fault.times <= 0) state.faults.splice(state.faults.indexOf(fault), 1)
    return fault
  }

  function takeNetworkFault(method: string, path: string): NetworkFault['kind'] | undefined {
    return takeMatching(method, path, (fault): fault is NetworkFault => fault.kind !== undefined)?.kind
  }

  function takeFault(method: string, path: string, caller: Caller, requestId: string): ErrorReply | undefined {
    const fault = takeMatching(method, path, (candidate): candidate is StatusFault => candidate.kind === undefined)
    if (fault === undefined) return undefined
    const retryAfter = fault.retryAfter ?? 60
    if (fault.status === 401) return badCredentials()
    if (fault.status === 403) return fault.secondary ? secondaryRateLimited(403, retryAfter, requestId) : rateLimited(caller.login === undefined ? undefined : String(shapes.idOf('user', caller.login)))
    if (fault.status === 404) return notFound()
    if (fault.status === 429) return secondaryRateLimited(429, retryAfter, requestId)
    if (fault.status >= 500) return serverError(fault.status)
    return githubError(fault.status, 'Injected fault')
  }

  async function route(method: string, segments: string[], url: URL, caller: Caller, request: IncomingMessage): Promise<Reply> {
    const [root, owner = '', name = '', collection, ...rest] = segments
    if (root === 'user' && segments.length === 1 && method === 'GET') {
      if (caller.login === undefined) return requiresAuthentication(DOCS.user)
      return ok(shapes.authenticatedUser(urls, caller.login))
    }
    if (root !== 'repos') return notFound()
    const repo = findRepo(`${owner}/${name}`, caller)
    if (collection === undefined) return method === 'GET' && repo ? ok(shapes.repository(urls, repo)) : notFound(DOCS.repo)
    if (collection === 'pulls' && rest.length === 1 && method === 'GET') return getPull(repo, rest[0]!)
    if (collection === 'pulls' && rest.length === 2 && rest[1] === 'commits' && method === 'GET') return listPullCommits(repo, rest[0]!, url)
    if (collection === 'commits' && rest.length > 0 && method === 'GET') return getCommit(repo, rest.join('/'))
    if (collection === 'branches' && rest.length > 0 && method === 'GET') return getBranch(repo, rest.join('/'))
    if (collection === 'issues' && rest.length === 2 && rest[1] === 'comments') {
      if (method === 'GET') return listComments(repo, rest[0]!, url)
      if (method === 'POST') return createComment(repo, rest[0]!, caller, await readJson(request))
    }
    if (collection === 'issues' && rest.length === 2 && rest[0] === 'comments' && method === 'PATCH') return updateComment(repo, rest[1]!, caller, await readJson(request))
    return notFound()
  }

  function findRepo(fullName: string, caller: Caller): RepoRecord | undefined {
    const spec = state.repos.find((repo) => !repo.deleted && `${repo.owner}/${repo.name}`.toLowerCase() === fullName.toLowerCase())
    // GitHub hides a private repository from those who may not see it behind the same 404 as a missing one.
    if (spec === undefined || (spec.private && caller.login === undefined)) return undefined
    return record(spec)
  }

  function record(spec: RepoSpec): RepoRecord {
    return { owner: spec.owner, name: spec.name, path: spec.path, private: spec.private ?? false, defaultBranch: spec.defaultBranch ?? 'master', ...(spec.parent ? { parent: spec.parent } : {}) }
  }

  function specOf(fullName: string): RepoSpec {
    const spec = state.repos.find((repo) => `${repo.owner}/${repo.name}`.toLowerCase() === fullName.toLowerCase())
    if (spec === undefined) throw new Error(`the emulator has no repository ${fullName}`)
    return spec
  }

  async function syncPull(pull: PullSpec): Promise<void> {
    await syncPullRef(specOf(pull.base.repo).path, specOf(pull.head.repo).path, pull.head.ref, pull.number)
  }

  /**
   * The PR's head: refs/pull/N/head, first moved to where its head branch now
   * is. Once the head repository is deleted or the branch is gone, it stays at
   * the last head seen, as on GitHub.
   */
  async function refreshPull(pull: PullSpec): Promise<string | undefined> {
    const base = specOf(pull.base.repo).path
    const head = specOf(pull.head.repo)
    const ref = `refs/pull/${pull.number}/head`
    const key = `${base}\0${ref}`
    const refresh = (refreshes.get(key) ?? Promise.resolve())
      .catch(() => {})
      .then(async () => {
        const seen = await resolveCommit(base, ref)
        if (seen !== undefined && head.deleted) return seen
        const branch = await resolveBranch(head.path, pull.head.ref)
        if (branch === undefined || branch === seen) return seen
        await syncPull(pull)
        return resolveCommit(base, ref)
      })
    refreshes.set(key, refresh)
    return refresh
  }

  function findPull(repo: RepoRecord | undefined, numberText: string): PullSpec | undefined {
    return repo && state.pulls.find((pull) => String(pull.number) === numberText && pull.base.repo.toLowerCase() === `${repo.owner}/${repo.name}`.toLowerCase())
  }

  /** The PR's commits, oldest first: those on its head that its base branch does not have. */
  function pullCommits(repo: RepoRecord, spec: PullSpec): Promise<string[]> {
    return listCommits(repo.path, `refs/heads/${spec.base.ref}`, `refs/pull/${spec.number}/head`)
  }

  async function getPull(repo: RepoRecord | undefined, numberText: string): Promise<Reply> {
    const spec = findPull(repo, numberText)
    if (repo === undefined || spec === undefined) return notFound(DOCS.pull)
    const headSpec = specOf(spec.head.repo)
    const headSha = await refreshPull(spec)
    const baseSha = await resolveBranch(repo.path, spec.base.ref)
    if (headSha === undefined || baseSha === undefined) throw new Error(`pull ${spec.number}: head or base branch is missing from the repositories`)
    const headRecord = record(headSpec)
    return ok(
      shapes.pull(urls, {
        number: spec.number,
        title: spec.title ?? spec.head.ref,
        body: spec.body ?? '',
        login: spec.login ?? headSpec.owner,
        state: spec.state ?? 'open',
        merged: spec.merged ?? false,
        draft: spec.draft ?? false,
        head: { repo: headRecord, shown: headSpec.deleted ? null : headRecord, ref: spec.head.ref, sha: headSha },
        base: { repo, shown: repo, ref: spec.base.ref, sha: baseSha },
        commits: (await pullCommits(repo, spec)).length,
      }),
    )
  }

  /** The PR's commits, oldest first, as GitHub lists them: those on its head that its base branch does not have. */
  async function listPullCommits(repo: RepoRecord | undefined, numberText: string, url: URL): Promise<Reply> {
    const spec = findPull(repo, numberText)
    if (repo === undefined || spec === undefined) return notFound(DOCS.listPullCommits)
    if ((await refreshPull(spec)) === undefined) throw new Error(`pull ${spec.number}: its head branch is missing from the repositories`)
    const shas = await pullCommits(repo, spec)
    const infos = await Promise.all(shas.map((sha) => readCommit(repo.path, sha)))
    return paginated(
      url,
      infos.map((info) => {
        // The list leaves out what only a single commit's answer has.
        const { stats: _stats, files: _files, ...listed } = shapes.commit(urls, repo, info)
        return listed
      }),
    )
  }

  async function getCommit(repo: RepoRecord | undefined, ref: string): Promise<Reply> {
    if (repo === undefined) return notFound(DOCS.commit)
    const sha = ref.startsWith('-') ? undefined : await resolveCommit(repo.path, ref)
    if (sha === undefined) return githubError(422, `No commit found for SHA: ${ref}`, DOCS.commit)
    return ok(shapes.commit(urls, repo, await readCommit(repo.path, sha)))
  }

  async function getBranch(repo: RepoRecord | undefined, name: string): Promise<Reply> {
    if (repo === undefined) return notFound(DOCS.branch)
    const sha = await resolveBranch(repo.path, name)
    if (sha === undefined) return githubError(404, 'Branch not found', DOCS.branch)
    return ok(shapes.branch(urls, repo, name, await readCommit(repo.path, sha)))
  }

  function listComments(repo: RepoRecord | undefined, numberText: string, url: URL): Reply {
    if (repo === undefined || findPull(repo, numberText) === undefined) return notFound(DOCS.listComments)
    const all = state.comments.filter((comment) => comment.owner === repo.owner && comment.repo === repo.name && String(comment.issue) === numberText)
    return paginated(
      url,
      all.map((comment) => shapes.comment(urls, comment)),
    )
  }

  /** One page of a list, as per_page and page ask, with GitHub's link header. */
  function paginated(url: URL, all: unknown[]): Reply {
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page')) || 30))
    const page = Math.max(1, Number(url.searchParams.get('page')) || 1)
    const last = Math.max(1, Math.ceil(all.length / perPage))
    const link = (n: number, rel: string) => `<${urls.api}${url.pathname}?per_page=${perPage}&page=${n}>; rel="${rel}"`
    const links = [...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []), ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : [])]
    return {
      status: 200,
      body: all.slice((page - 1) * perPage, page * perPage),
      ...(links.length > 0 ? { headers: { link: links.join(', ') } } : {}),
    }
  }

  function createComment(repo: RepoRecord | undefined, numberText: string, caller: Caller, input: unknown): Reply {
    if (caller.login === undefined) return requiresAuthentication(DOCS.createComment)
    if (repo === undefined || findPull(repo, numberText) === undefined) return notFound(DOCS.createComment)
    if (!caller.write) return githubError(403, 'Resource not accessible by personal access token', DOCS.createComment)
    const body = commentBody(input)
    if (typeof body !== 'string') return body
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    const comment: CommentRecord = { id: nextCommentId++, owner: repo.owner, repo: repo.name, issue: Number(numberText), body, login: caller.login, createdAt: now, updatedAt: now }
    state.comments.push(comment)
    return { status: 201, body: shapes.comment(urls, comment), headers: { location: `${urls.api}/repos/${repo.owner}/${repo.name}/issues/comments/${comment.id}` } }
  }

  function updateComment(repo: RepoRecord | undefined, idText: string, caller: Caller, input: unknown): Reply {
    if (caller.login === undefined) return requiresAuthentication(DOCS.updateComment)
    const comment = repo && state.comments.find((candidate) => String(candidate.id) === idText && candidate.owner === repo.owner && candidate.repo === repo.name)
    if (comment === undefined) return notFound(DOCS.updateComment)
    if (!caller.write) return githubError(403, 'Resource not accessible by personal access token', DOCS.updateComment)
    const body = commentBody(input)
    if (typeof body !== 'string') return body
    comment.body = body
    comment.updatedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    return ok(shapes.comment(urls, comment))
  }

  return {
    url: urls.api,
    web: urls.web,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const response of hung) response.destroy()
        hung.clear()
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      }),
  }
}

const ok = (body: unknown): Reply => ({ status: 200, body })

function commentBody(input: unknown): string | Reply {
  if (input instanceof Error) return githubError(400, 'Problems parsing JSON', DOCS.createComment)
  const body = (input as { body?: unknown } | null)?.body
  if (typeof body !== 'string') return githubError(422, 'Invalid request.\n\n"body" wasn\'t supplied.', DOCS.createComment)
  return body
}

/** The request's JSON body, or the parse error (answered with 400, as GitHub does). */
async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (error) {
    return error
  }
}

function send(response: ServerResponse, reply: Reply, limit: Limit | undefined): void {
  const remaining = limit === undefined || reply.exhausted ? 0 : limit.limit - limit.used
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'x-github-media-type': 'github.v3; format=json',
    'x-github-api-version-selected': '2022-11-28',
    ...(limit
      ? {
          'x-ratelimit-limit': String(limit.limit),
          'x-ratelimit-remaining': String(remaining),
          'x-ratelimit-reset': String(limit.reset),
          'x-ratelimit-used': String(limit.limit - remaining),
          'x-ratelimit-resource': 'core',
        }
      : {}),
    ...reply.headers,
  }
  response.writeHead(reply.status, headers)
  response.end(JSON.stringify(reply.body))
}
