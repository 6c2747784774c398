// kspawn's GitHub client against a local HTTP server that answers as told:
// which answers are retried and how long it waits, the token's lookup order,
// and failures turned into messages that name where the token came from but
// never the token; `gh auth token` is a command of the runner whose token is
// in no event or log.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { Interrupted, UsageError } from '../../engine/errors.ts'
import type { KspawnEvent } from '../../engine/run/events.ts'
import { createRunner, type Command, type CommandResult } from '../../engine/runner/runner.ts'
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
  const asked: Command[] = []
  const gh = (stdout: string) => async (command: Command): Promise<CommandResult> => {
    asked.push(command)
    return { argv: command.argv, commandLine: '', exitCode: 0, signal: null, durationMs: 0, stdout, tail: [], dryRun: false }
  }
  assert.equal(await findToken({ env: { GITHUB_TOKEN: ' ghp_a ', GH_TOKEN: 'ghp_b' }, host: 'github.com', run: gh('gho_fromGh\n') }), { value: 'ghp_a', source: 'GITHUB_TOKEN' })
  assert.equal(await findToken({ env: { GITHUB_TOKEN: '', GH_TOKEN: 'ghp_b' }, host: 'github.com', run: gh('gho_fromGh\n') }), { value: 'ghp_b', source: 'GH_TOKEN' })
  assert.equal(asked, [])
  assert.equal(await findToken({ env: {}, host: 'ghe.example.com', run: gh('gho_fromGh\n') }), { value: 'gho_fromGh', source: 'gh auth token' })
  assert.equal(asked.map((command) => command.argv), [['gh', 'auth', 'token', '--hostname', 'ghe.example.com']])
  // It only reads, so it runs in dry-run too; what it prints is the token, kept out of logs and events.
  assert.equal([asked[0]!.reads, asked[0]!.capture, asked[0]!.secretStdout], [true, true, true])
  assert.is(await findToken({ env: {}, host: 'github.com', run: gh('') }), undefined)
  assert.is(await findToken({ env: {}, host: 'github.com', run: gh('two words\n') }), undefined)
})

test('gh auth token runs through the runner: its command is in the events, its token in no event, log or message', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kspawn-gh-'))
  const token = 'gho_fakeGhCliToken0123456789abcdefABCDEF'
  try {
    // A gh that prints its token, then fails when asked to (a gh that says something odd).
    const gh = join(dir, 'gh')
    await writeFile(gh, `#!/bin/sh\necho "${token}"\necho "gh for $4" >&2\nexit "\${FAKE_GH_EXIT:-0}"\n`)
    await chmod(gh, 0o755)
    const env = { PATH: `${dir}:${process.env.PATH ?? ''}` }
    const events: KspawnEvent[] = []
    const runner = createRunner({ runDir: join(dir, 'run'), dryRun: false, emit: (event) => events.push(event) })
    const run = (command: Command) => runner.run(command, { id: 'plan' })

    assert.equal(await findToken({ env, host: 'github.com', run }), { value: token, source: 'gh auth token' })
    assert.is(await findToken({ env: { ...env, FAKE_GH_EXIT: '1' }, host: 'github.com', run }), undefined)
    assert.equal(
      events.flatMap((event) => (event.kind === 'cmd' ? [event.commandLine] : [])),
      ['gh auth token --hostname github.com', 'gh auth token --hostname github.com'],
    )
    assert.equal(
      events.flatMap((event) => (event.kind === 'output' ? [event.line] : [])),
      ['gh for github.com', 'gh for github.com'],
      'what gh says on stderr is shown',
    )
    const log = await readFile(join(dir, 'run', 'plan.log'), 'utf8')
    assert.match(log, '$ gh auth token --hostname github.com\n')
    for (const text of [log, JSON.stringify(events)]) assert.not.match(text, token)

    // As kspawn pr runs it, before its run folder exists: in dry-run, writing no log.
    const planned: KspawnEvent[] = []
    const reads = createRunner({ runDir: join(dir, 'none'), dryRun: true, emit: (event) => planned.push(event) })
    assert.equal(await findToken({ env, host: 'github.com', run: (command) => reads.run(command, { id: 'plan' }) }), { value: token, source: 'gh auth token' })
    assert.equal(planned[0], { kind: 'cmd', step: 'plan', commandLine: 'gh auth token --hostname github.com', cwd: process.cwd(), dryRun: false })
    assert.not.match(JSON.stringify(planned), token)

    // No gh at all is anonymous access.
    assert.is(await findToken({ env: { PATH: join(dir, 'nothing') }, host: 'github.com', run }), undefined)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('an interrupt while gh auth token runs stops it and kspawn pr: it is not anonymous access', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kspawn-gh-'))
  try {
    await writeFile(join(dir, 'gh'), '#!/bin/sh\nexec sleep 30\n')
    await chmod(join(dir, 'gh'), 0o755)
    const runner = createRunner({ runDir: tmpdir(), dryRun: true, emit: () => {} })
    const started = performance.now()
    const pending = findToken({ env: { PATH: `${dir}:${process.env.PATH ?? ''}` }, host: 'github.com', run: (command) => runner.run(command, { id: 'plan' }) })
    setTimeout(() => void runner.abort('SIGINT'), 200)
    const error = await pending.catch((caught: unknown) => caught)
    assert.instance(error, Interrupted)
    assert.is((error as Interrupted).message, 'plan was interrupted by SIGINT while running: gh auth token --hostname github.com')
    assert.ok(performance.now() - started < 5000, 'gh was stopped, not waited for')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
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
