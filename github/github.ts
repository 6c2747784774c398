// kspawn's GitHub API client: @octokit/rest with a per-request timeout, a
// bounded retry where retrying can help (5xx, 429), the token found where
// people keep it, and GitHub's failures turned into messages that say what
// happened and what to do. The token is never printed, logged or stored:
// messages name where it came from, never its value.
import { Octokit } from '@octokit/rest'
import { Interrupted, KspawnError, UsageError, isCommandError } from '../engine/errors.ts'
import type { StepIO } from '../engine/plugin.ts'
import { formatDuration } from '../engine/run/events.ts'
import { DEFAULT_API, normalApiUrl } from './github-url.ts'

/** A token and where it was found; only `source` is ever shown. */
export interface GitHubToken {
  readonly value: string
  /** `GITHUB_TOKEN`, `GH_TOKEN` or `gh auth token`. */
  readonly source: string
}

/** GitHub failed, or could not be reached: exit 1, as for a failed step. */
export class GitHubError extends KspawnError {
  readonly exitCode = 1
}

export interface FindTokenOptions {
  env: Record<string, string | undefined>
  /** The web host the token is for, asked of `gh auth token --hostname`. */
  host: string
  /** Runs `gh auth token`: the runner's, as a step. */
  run: StepIO['run']
}

/** GITHUB_TOKEN, then GH_TOKEN, then what the gh CLI is logged in with; undefined for anonymous access. */
export async function findToken({ env, host, run }: FindTokenOptions): Promise<GitHubToken | undefined> {
  for (const name of ['GITHUB_TOKEN', 'GH_TOKEN']) {
    const value = env[name]?.trim()
    if (value) return { value, source: name }
  }
  const value = await ghAuthToken(host, env, run)
  return value ? { value, source: 'gh auth token' } : undefined
}

/** Asks the gh CLI for the token it is logged in with for a host, which it prints alone on stdout. */
export function ghAuthTokenArgv(host: string): string[] {
  return ['gh', 'auth', 'token', '--hostname', host]
}

/** What gh is logged in with for the host; undefined when gh is missing, has no token or does not answer in time. */
async function ghAuthToken(host: string, env: Record<string, string | undefined>, run: StepIO['run']): Promise<string | undefined> {
  try {
    // Its stdout is the token: captured, and never shown or logged. gh reads where people keep their login,
    // GH_ENTERPRISE_TOKEN among others, so it gets kspawn's environment, secrets included (redacted in what it says).
    const { stdout = '' } = await run({ argv: ghAuthTokenArgv(host), env, reads: true, capture: true, secretStdout: true, timeoutMs: 10_000 })
    const token = stdout.trim()
    return /^\S+$/.test(token) ? token : undefined
  } catch (error) {
    // No gh, or gh not logged in: anonymous access. Interrupted (Ctrl-C) stops kspawn pr.
    if (isCommandError(error)) return undefined
    throw error
  }
}

export interface ClientOptions {
  api: string
  token?: GitHubToken
  /** Per request, including reading the answer. Default 30 s. */
  timeoutMs?: number
  /** Retries of a request answered with 5xx or 429. Default 3. */
  retries?: number
  /** The first retry waits this long, each next one twice as long. Default 1 s. */
  retryDelayMs?: number
  /** A 429 asking to wait longer than this is not retried: the message says how long. Default 60 s. */
  maxRetryAfterMs?: number
  /** Aborting it (Ctrl-C) stops the request in flight. */
  signal?: AbortSignal
  /** Told before each retry, e.g. to print it. */
  onRetry?: (message: string) => void
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

/** What a request failure carries, as @octokit/request-error has it. */
interface RequestFailure {
  status: number
  message: string
  response?: { status: number; headers: Record<string, string | number | undefined>; data?: unknown }
  request?: { method?: string; url?: string }
  cause?: unknown
}

function isRequestFailure(error: unknown): error is RequestFailure & Error {
  return error instanceof Error && typeof (error as Partial<RequestFailure>).status === 'number'
}

const silentLog = { debug() {}, info() {}, warn() {}, error() {} }

export function createGitHubClient(options: ClientOptions): Octokit {
  const api = normalApiUrl(options.api)
  const timeoutMs = options.timeoutMs ?? 30_000
  const retries = options.retries ?? 3
  const retryDelayMs = options.retryDelayMs ?? 1000
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000
  const sleep = options.sleep ?? delay
  const octokit = new Octokit({
    baseUrl: api,
    userAgent: 'kspawn',
    // Octokit would print deprecation notices and the like on its own.
    log: silentLog,
    ...(options.token ? { auth: options.token.value } : {}),
  })
  octokit.hook.wrap('request', async (request, requestOptions) => {
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs)
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout
      try {
        // In place: the hooks inside this one (Octokit's request log) were given this very options object, and ignore another.
        requestOptions.request = { ...requestOptions.request, signal }
        return await request(requestOptions)
      } catch (error) {
        if (options.signal?.aborted) {
          const reason: unknown = options.signal.reason
          throw new Interrupted(`interrupted by ${typeof reason === 'string' ? reason : 'an abort'} while asking GitHub (${describeRequest(requestOptions)})`, { cause: error })
        }
        const failure = timeout.aborted && isAbort(error) ? new TimeoutFailure(timeoutMs, error) : error
        const wait = attempt <= retries ? retryWait(failure, attempt, retryDelayMs, maxRetryAfterMs) : undefined
        if (wait === undefined) {
          if (isRequestFailure(failure)) Object.assign(failure, { attempts: attempt })
          throw failure
        }
        options.onRetry?.(`GitHub answered ${statusText(failure as RequestFailure)} to ${describeRequest(requestOptions)}: retrying in ${formatDuration(wait)} (retry ${attempt} of ${retries})`)
        await sleep(wait, options.signal)
      }
    }
  })
  /** `GET /repos/kinvolk/kubernetes`: the options hold the route (/repos/{owner}/{repo}) and its parameters apart. */
  function describeRequest(requestOptions: Parameters<typeof octokit.request.endpoint.parse>[0]): string {
    const endpoint = octokit.request.endpoint.parse(requestOptions)
    return `${endpoint.method} ${pathOf(endpoint.url, api)}`
  }
  return octokit
}

/** Whether fetch failed because its signal was aborted (Octokit passes that error on, or wraps it). */
function isAbort(error: unknown): boolean {
  const names = ['AbortError', 'TimeoutError']
  const cause = (error as { cause?: unknown } | undefined)?.cause
  return (error instanceof Error && names.includes(error.name)) || (cause instanceof Error && names.includes(cause.name))
}

/** A request that got no answer in time. */
class TimeoutFailure extends Error {
  constructor(
    readonly timeoutMs: number,
    cause: unknown,
  ) {
    super(`no answer within ${formatDuration(timeoutMs)}`, { cause })
  }
}

/** How long to wait before retrying, or undefined when retrying cannot help: only 5xx answers and 429 are retried. */
function retryWait(error: unknown, attempt: number, delayMs: number, maxRetryAfterMs: number): number | undefined {
  if (!isRequestFailure(error) || error.response === undefined) return undefined
  const backoff = delayMs * 2 ** (attempt - 1)
  if (error.status === 429) {
    const after = retryAfterMs(error)
    if (after === undefined) return backoff
    return after <= maxRetryAfterMs ? Math.max(after, backoff) : undefined
  }
  return error.status >= 500 ? backoff : undefined
}

function retryAfterMs(error: RequestFailure): number | undefined {
  const header = error.response?.headers['retry-after']
  if (header === undefined) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(String(header))
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

function statusText(error: RequestFailure): string {
  return `${error.status} ${githubMessage(error)}`.trim()
}

/** GitHub's own message (`Not Found`), without the documentation link Octokit appends to it. */
export function githubMessage(error: RequestFailure | Error): string {
  const data = (error as RequestFailure).response?.data
  const message = typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : undefined
  return typeof message === 'string' ? message : error.message
}

function pathOf(url: string, api: string): string {
  const withoutBase = url.startsWith(api) ? url.slice(api.length) : url
  return withoutBase.split('?')[0] ?? withoutBase
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

export interface FailureContext {
  /** What kspawn asked GitHub, as a verb phrase: "read pull request #101 of kubernetes/kubernetes". */
  what: string
  /** What a 404 means here: "no pull request #101 in kubernetes/kubernetes". */
  missing?: string
  api: string
  token?: GitHubToken
  /** What a 403 that is not a rate limit means: which permission the token lacks. */
  permission?: string
  now?: () => Date
}

/**
 * A failed request as a message that says what happened and what to do:
 * 404 and 401 are the URL's or the token's fault (exit 2), the rest GitHub's
 * or the network's (exit 1).
 */
export function explainFailure(error: unknown, context: FailureContext): KspawnError {
  if (error instanceof KspawnError) return error
  const { what, token } = context
  const api = normalApiUrl(context.api)
  const custom = api !== DEFAULT_API
  const tokenHelp = 'set GITHUB_TOKEN (or GH_TOKEN, or log in with gh auth login)'
  if (error instanceof TimeoutFailure) {
    return new GitHubError(`the GitHub API at ${api} did not answer within ${formatDuration(error.timeoutMs)} when kspawn asked to ${what}: try again, or wait longer with --github-timeout <seconds>`, { cause: error })
  }
  if (!isRequestFailure(error)) return new GitHubError(`could not ${what} on GitHub: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  const response = error.response
  if (response === undefined) {
    const cause = error.cause instanceof Error ? error.cause : undefined
    const code = (cause as { code?: string } | undefined)?.code ?? ((cause?.cause as { code?: string } | undefined)?.code)
    const hint = custom ? `check that ${api} is your GitHub's API URL (--github-api, or github.api in the config) and that it is up` : 'check your network connection'
    return new GitHubError(`could not reach the GitHub API at ${api} to ${what}: ${error.message}${code && !error.message.includes(code) ? ` (${code})` : ''}. ${capitalize(hint)}, and rerun.`, { cause: error })
  }
  const headers = response.headers
  const status = error.status
  const said = statusText(error)
  const attempts = (error as { attempts?: number }).attempts ?? 1
  if (status === 401) {
    const fix =
      token === undefined
        ? `${tokenHelp} to a token that can`
        : token.source === 'gh auth token'
          ? 'log in again with gh auth login, or set GITHUB_TOKEN to a valid token'
          : `make a new token and put it in ${token.source}, or unset ${token.source} to ask anonymously (public repositories only)`
    const whose = token === undefined ? 'GitHub wants a token' : `GitHub rejected the token from ${token.source}: it is wrong, expired or revoked`
    return new UsageError(`${whose} (${said}) when kspawn asked to ${what}: ${fix}`, { cause: error })
  }
  const remaining = headers['x-ratelimit-remaining']
  if ((status === 403 || status === 429) && remaining !== undefined && String(remaining) === '0' && headers['retry-after'] === undefined) {
    const limit = headers['x-ratelimit-limit']
    const reset = Number(headers['x-ratelimit-reset'])
    const now = (context.now ?? (() => new Date()))()
    const when = Number.isFinite(reset) && reset > 0 ? ` It resets at ${formatTime(new Date(reset * 1000))} (${relative(reset * 1000 - now.getTime())}).` : ''
    const whose = token === undefined ? 'for anonymous requests from this address' : `for the token from ${token.source}`
    const more = token === undefined ? ` With a token the limit is 5000 an hour: ${tokenHelp}.` : ''
    return new GitHubError(`GitHub's API rate limit is used up (${limit ?? 'all'} requests an hour ${whose}): kspawn could not ${what}.${when}${more} Rerun after that.`, { cause: error })
  }
  if ((status === 403 || status === 429) && (headers['retry-after'] !== undefined || /secondary rate limit/i.test(githubMessage(error)))) {
    const after = retryAfterMs(error)
    const wait = after === undefined ? 'a few minutes' : formatDuration(after)
    const retried = attempts > 1 ? ` (asked ${attempts} times)` : ''
    return new GitHubError(`GitHub's secondary rate limit, which limits bursts of requests, stopped kspawn from asking to ${what}${retried}: wait ${wait} and rerun.`, { cause: error })
  }
  if (status === 404) {
    const missing = context.missing ?? `what kspawn asked for`
    const privateHint =
      token === undefined
        ? `If the repository is private, ${tokenHelp} to a token that can read it: GitHub answers 404 to anonymous requests for private repositories.`
        : `If the repository is private, the token from ${token.source} cannot read it: give it access.`
    return new UsageError(`GitHub has ${missing} (${said}${custom ? ` from ${api}` : ''}): check the URL. ${privateHint}`, { cause: error })
  }
  if (status === 403) {
    const permission = context.permission ? ` ${context.permission}` : ''
    const whose = token === undefined ? 'anonymous requests' : `the token from ${token.source}`
    return new UsageError(`GitHub refused to let kspawn ${what} (${said}): ${whose} may not do that.${permission}`, { cause: error })
  }
  if (status >= 500 || status === 429) {
    const times = attempts > 1 ? `, ${attempts} times over the retries,` : ''
    return new GitHubError(`GitHub answered ${said}${times} when kspawn asked to ${what}: GitHub may be having trouble (https://www.githubstatus.com); try again later.`, { cause: error })
  }
  return new GitHubError(`GitHub answered ${said} when kspawn asked to ${what}.`, { cause: error })
}

/** e.g. `2026-11-24 21:03:12 UTC`. */
function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
}

function relative(ms: number): string {
  if (ms <= 0) return 'now'
  return `in ${formatDuration(ms)}`
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
