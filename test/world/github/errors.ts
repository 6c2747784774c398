// GitHub's error answers: the status, the JSON body GitHub sends with it and
// the headers clients read to decide whether and when to retry.
import type { components } from '@octokit/openapi-types'

export const DOCS = {
  rest: 'https://docs.github.com/rest',
  repo: 'https://docs.github.com/rest/repos/repos#get-a-repository',
  pull: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request',
  commit: 'https://docs.github.com/rest/commits/commits#get-a-commit',
  listPullCommits: 'https://docs.github.com/rest/pulls/pulls#list-commits-on-a-pull-request',
  user: 'https://docs.github.com/rest/users/users#get-the-authenticated-user',
  branch: 'https://docs.github.com/rest/branches/branches#get-a-branch',
  listComments: 'https://docs.github.com/rest/issues/comments#list-issue-comments',
  createComment: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment',
  updateComment: 'https://docs.github.com/rest/issues/comments#update-an-issue-comment',
  rateLimit: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
  secondaryRateLimit: 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
} as const

export interface ErrorReply {
  status: number
  body: components['schemas']['basic-error'] & { status?: string }
  headers?: Record<string, string>
  /** The answer exhausts the caller's primary rate limit: x-ratelimit-remaining says 0. */
  exhausted?: boolean
}

export function githubError(status: number, message: string, documentationUrl: string = DOCS.rest, headers?: Record<string, string>): ErrorReply {
  return { status, body: { message, documentation_url: documentationUrl, status: String(status) }, ...(headers ? { headers } : {}) }
}

export const notFound = (documentationUrl: string = DOCS.rest) => githubError(404, 'Not Found', documentationUrl)
export const badCredentials = () => githubError(401, 'Bad credentials')
export const requiresAuthentication = (documentationUrl: string) => githubError(401, 'Requires authentication', documentationUrl)

/** The primary rate limit is used up; the reset time is in x-ratelimit-reset. */
export function rateLimited(who: string | undefined): ErrorReply {
  const message =
    who === undefined
      ? "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)"
      : `API rate limit exceeded for user ID ${who}.`
  return { ...githubError(403, message, DOCS.rateLimit), exhausted: true }
}

/** GitHub answers a secondary rate limit with 403 or 429 and a retry-after in seconds. */
export function secondaryRateLimited(status: 403 | 429, retryAfterSeconds: number, requestId: string): ErrorReply {
  return githubError(
    status,
    `You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID ${requestId}.`,
    DOCS.secondaryRateLimit,
    { 'retry-after': String(retryAfterSeconds) },
  )
}

const SERVER_ERRORS: Record<number, string> = {
  500: 'Server Error',
  502: 'Server Error',
  503: 'Service Unavailable',
  504: 'We couldn\u2019t respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.',
}

export function serverError(status: number): ErrorReply {
  return githubError(status, SERVER_ERRORS[status] ?? 'Server Error')
}
