// kspawn's GitHub client against a local HTTP server that answers as told:
// which answers are retried and how long it waits, the token's lookup order,
// and failures turned into messages that name where the token came from but
// never the token.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { Interrupted, UsageError } from '../../engine/errors.ts'
import { createGitHubClient, explainFailure, findToken, GitHubError } from '../../github/github.ts'

const TOKEN = 'ghp_clientTestToken0123456789abcdefABCDEF'

let server: Server
let api = ''
/** What the server answers, in order; the last one again when they run out. */
let answers: { status: number; headers?: Record<string, string>; body?: unknown }[] = []
let requests: { path: string; authorization?: string }[] = []

test.before(async () => {
  server = createServer((request, response) => {
    requests.push({ path: request.url ?? '', ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}) })
    const answer = answers.length > 1 ? answers.shift()! : answers[0]!
    response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers })
    response.end(JSON.stringify(answer.body ?? { message: 'Server Error', documentation_url: 'https://docs.github.com/rest' }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

test.after(() => new Promise<void>((resolve) => server.close(() => resolve())))

test.before.each(() => {
  answers = []
  requests = []
})

function client(sleeps: number[], options: { retries?: number } = {}) {
  return createGitHubClient({ api, token: { value: TOKEN, source: 'GH_TOKEN' }, sleep: async (ms) => void sleeps.push(ms), onRetry: () => {}, ...options })
}

test('5xx answers are retried with a doubling wait, at most 3 times, then fail with the attempts counted', async () => {
  answers = [{ status: 502 }, { status: 503 }, { status: 200, body: { full_name: 'kinvolk/kubernetes' } }]
  const sleeps: number[] = []
  const { data } = await client(sleeps).request('GET /repos/{owner}/{repo}', { owner: 'kinvolk', repo: 'kubernetes' })
  assert.equal(data, { full_name: 'kinvolk/kubernetes' })
  assert.equal(sleeps, [1000, 2000])
  assert.is(requests.length, 3)
  assert.is(requests[0]!.authorization, `token ${TOKEN}`)

  answers = [{ status: 500 }]
  const again: number[] = []
  const error = await client(again).request('GET /repos/{owner}/{repo}', { owner: 'kinvolk', repo: 'kubernetes' }).catch((caught: unknown) => caught)
  assert.equal(again, [1000, 2000, 4000])
  const explained = explainFailure(error, { what: 'read the repository kinvolk/kubernetes', api })
  assert.instance(explained, GitHubError)
  assert.is(explained.message, 'GitHub answered 500 Server Error, 4 times over the retries, when kspawn asked to read the repository kinvolk/kubernetes: GitHub may be having trouble (https://www.githubstatus.com); try again later.')
})

test('429 waits as long as retry-after says, unless that is longer than a minute; 4xx are not retried', async () => {
  answers = [{ status: 429, headers: { 'retry-after': '5' } }, { status: 200, body: {} }]
  const sleeps: number[] = []
  await client(sleeps).request('GET /user')
  assert.equal(sleeps, [5000])

  answers = [{ status: 429, headers: { 'retry-after': '3600' }, body: { message: 'You have exceeded a secondary rate limit.' } }]
  const long: number[] = []
  const error = await client(long).request('GET /user').catch((caught: unknown) => caught)
  assert.equal(long, [])
  assert.is(explainFailure(error, { what: 'read the user', api }).message, "GitHub's secondary rate limit, which limits bursts of requests, stopped kspawn from asking to read the user: wait 60m 00s and rerun.")

  for (const status of [401, 403, 404, 422]) {
    requests = []
    answers = [{ status, body: { message: 'No' } }]
    await client([]).request('GET /user').catch(() => undefined)
    assert.is(requests.length, 1, `${status} is asked once`)
  }
})

test('a request that gets no answer fails after the timeout, and so does one that Ctrl-C stops', async () => {
  const silent = createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
  try {
    const error = await createGitHubClient({ api: base, timeoutMs: 200 }).rest.pulls.get({ owner: 'a', repo: 'b', pull_number: 1 }).catch((caught: unknown) => caught)
    assert.is(
      explainFailure(error, { what: 'read pull request #1 of a/b', api: base }).message,
      `the GitHub API at ${base} did not answer within 200ms when kspawn asked to read pull request #1 of a/b: try again, or wait longer with --github-timeout <seconds>`,
    )
    const interrupt = new AbortController()
    const pending = createGitHubClient({ api: base, signal: interrupt.signal }).rest.pulls.get({ owner: 'a', repo: 'b', pull_number: 1 })
    setTimeout(() => interrupt.abort('SIGINT'), 100)
    const stopped = await pending.catch((caught: unknown) => caught)
    assert.instance(stopped, Interrupted)
    assert.is((stopped as Interrupted).exitCode, 130)
    assert.is((stopped as Interrupted).message, 'interrupted by SIGINT while asking GitHub (GET /repos/a/b/pulls/1)')
    assert.is(explainFailure(stopped, { what: 'read pull request #1 of a/b', api: base }), stopped)
  } finally {
    silent.closeAllConnections()
    await new Promise<void>((resolve) => silent.close(() => resolve()))
  }
})

test('the token comes from GITHUB_TOKEN, then GH_TOKEN, then gh auth token for that host', async () => {
  const asked: string[] = []
  const gh = async (host: string) => {
    asked.push(host)
    return 'gho_fromGh'
  }
  assert.equal(await findToken({ env: { GITHUB_TOKEN: ' ghp_a ', GH_TOKEN: 'ghp_b' }, host: 'github.com', ghToken: gh }), { value: 'ghp_a', source: 'GITHUB_TOKEN' })
  assert.equal(await findToken({ env: { GITHUB_TOKEN: '', GH_TOKEN: 'ghp_b' }, host: 'github.com', ghToken: gh }), { value: 'ghp_b', source: 'GH_TOKEN' })
  assert.equal(asked, [])
  assert.equal(await findToken({ env: {}, host: 'ghe.example.com', ghToken: gh }), { value: 'gho_fromGh', source: 'gh auth token' })
  assert.equal(asked, ['ghe.example.com'])
  assert.is(await findToken({ env: {}, host: 'github.com', ghToken: async () => undefined }), undefined)
})

test('401 names where the token came from, never the token; 404 without a token says private repositories need one', async () => {
  answers = [{ status: 401, body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' } }]
  const error = await client([]).request('GET /user').catch((caught: unknown) => caught)
  const explained = explainFailure(error, { what: 'read the user', api, token: { value: TOKEN, source: 'gh auth token' } })
  assert.instance(explained, UsageError)
  assert.is(explained.message, 'GitHub rejected the token from gh auth token: it is wrong, expired or revoked (401 Bad credentials) when kspawn asked to read the user: log in again with gh auth login, or set GITHUB_TOKEN to a valid token')
  assert.not.match(explained.message, TOKEN)

  answers = [{ status: 404, body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } }]
  const anonymous = createGitHubClient({ api, onRetry: () => {} })
  const missing = await anonymous.request('GET /repos/{owner}/{repo}', { owner: 'kinvolk', repo: 'secret' }).catch((caught: unknown) => caught)
  assert.is(requests.at(-1)!.authorization, undefined)
  assert.is(
    explainFailure(missing, { what: 'read the repository kinvolk/secret', missing: 'no repository kinvolk/secret', api: 'https://api.github.com' }).message,
    'GitHub has no repository kinvolk/secret (404 Not Found): check the URL. If the repository is private, set GITHUB_TOKEN (or GH_TOKEN, or log in with gh auth login) to a token that can read it: GitHub answers 404 to anonymous requests for private repositories.',
  )
})

test('an exhausted rate limit says when it resets, from the headers', async () => {
  const reset = Date.UTC(2026, 10, 24, 21, 3, 12) / 1000
  answers = [{ status: 403, headers: { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) }, body: { message: 'API rate limit exceeded for 127.0.0.1.' } }]
  const error = await client([]).request('GET /user').catch((caught: unknown) => caught)
  assert.is(requests.length, 1)
  const message = explainFailure(error, { what: 'read the user', api, now: () => new Date((reset - 754) * 1000) }).message
  assert.is(
    message,
    "GitHub's API rate limit is used up (60 requests an hour for anonymous requests from this address): kspawn could not read the user. It resets at 2026-11-24 21:03:12 UTC (in 12m 34s). With a token the limit is 5000 an hour: set GITHUB_TOKEN (or GH_TOKEN, or log in with gh auth login). Rerun after that.",
  )
})

test.run()
