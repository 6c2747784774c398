// The GitHub API emulator, through the client kspawn uses: @octokit/rest
// pointed at it, over copies of the world's bare repositories.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Octokit } from '@octokit/rest'
import { RequestError } from '@octokit/request-error'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { worldRepos } from './github/repos.ts'
import { startGitHub, type GitHub, type RepoSpec } from './github/server.ts'
import { branches, must } from './harness.ts'

const test = suite('github emulator')

const TOKEN = 'ghp_emulatorTestToken0123456789abcdefABCD'
const READ_ONLY_TOKEN = 'ghp_readOnlyToken0123456789abcdefABCDEF'
const WRONG_TOKEN = 'ghp_wrongToken0123456789abcdefABCDEFGHIJ'
const silent = { debug() {}, info() {}, warn() {}, error() {} }

let dir = ''
let upstream = ''
let fork = ''
let gone = ''
let github: GitHub
const logLines: string[] = []

const client = (auth?: string) => new Octokit({ baseUrl: github.url, log: silent, ...(auth !== undefined ? { auth } : {}) })
const sha = async (repo: string, ref: string) => (await must(['git', '-C', repo, 'rev-parse', ref])).stdout.trim()

/** The RequestError a call fails with. */
async function failure(call: () => Promise<unknown>): Promise<RequestError> {
  try {
    await call()
  } catch (error) {
    assert.instance(error, RequestError)
    return error as RequestError
  }
  throw new Error('the call succeeded')
}

/** What `promise` settles to, or a failure naming `what` when it has not settled within a minute. */
async function atMost<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} has not settled after a minute`)), 60_000)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kspawn-github-'))
  const mirrored = await worldRepos(dir)
  upstream = mirrored.upstream
  fork = mirrored.fork
  gone = mirrored.gone
  github = await startGitHub({
    repos: mirrored.repos,
    pulls: [
      { number: 101, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: branches.denyattach }, title: 'Add DenyAttach' },
      { number: 102, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'gone/kubernetes', ref: branches.denyattachfix } },
      { number: 103, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: branches.kubeadm }, state: 'closed', merged: true },
    ],
    tokens: { [TOKEN]: { login: 'alban' }, [READ_ONLY_TOKEN]: { login: 'reader', write: false } },
    log: (line) => logLines.push(line),
  })
})

test.after(async () => {
  await github?.close()
  await rm(dir, { recursive: true, force: true })
})

test('repos.get: the clone URL is the bare repository, and rate-limit headers come with it', async () => {
  const { data, headers } = await client().repos.get({ owner: 'kinvolk', repo: 'kubernetes' })
  assert.is(data.full_name, 'kinvolk/kubernetes')
  assert.is(data.clone_url, fork)
  assert.is(data.default_branch, 'master')
  assert.is(data.fork, true)
  assert.is(data.html_url, 'https://github.com/kinvolk/kubernetes')
  assert.is(headers['x-ratelimit-limit'], '60')
  assert.ok(Number(headers['x-ratelimit-remaining']) < 60)
  assert.ok(Number(headers['x-ratelimit-reset']) > Date.now() / 1000)
})

test('pulls.get: head and base come from the real repositories', async () => {
  const { data } = await client(TOKEN).pulls.get({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 101 })
  assert.is(data.number, 101)
  assert.is(data.state, 'open')
  assert.is(data.merged, false)
  assert.is(data.title, 'Add DenyAttach')
  assert.is(data.head.ref, branches.denyattach)
  assert.is(data.head.sha, await sha(fork, branches.denyattach))
  assert.is(data.head.repo?.clone_url, fork)
  assert.is(data.head.label, `kinvolk:${branches.denyattach}`)
  assert.is(data.base.ref, 'master')
  assert.is(data.base.sha, await sha(upstream, 'master'))
  assert.is(data.base.repo.clone_url, upstream)
  assert.is(data.commits, 1)
  const listed = await must(['git', 'ls-remote', data.head.repo!.clone_url, `refs/heads/${data.head.ref}`])
  assert.ok(listed.stdout.startsWith(data.head.sha))
})

test('pulls.get: a PR whose fork was deleted has head.repo null and its head in the base repository', async () => {
  const { data } = await client(TOKEN).pulls.get({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 102 })
  assert.is(data.head.repo, null)
  assert.is(data.head.ref, branches.denyattachfix)
  const head = await sha(fork, branches.denyattachfix)
  assert.is(data.head.sha, head)
  const listed = await must(['git', 'ls-remote', data.base.repo.clone_url, 'refs/pull/102/head'])
  assert.is(listed.stdout, `${head}\trefs/pull/102/head\n`)
  const error = await failure(() => client(TOKEN).repos.get({ owner: 'gone', repo: 'kubernetes' }))
  assert.is(error.status, 404)
})

test('pulls.get: a merged PR is closed and merged; an unknown one is 404', async () => {
  const { data } = await client().pulls.get({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 103 })
  assert.is(data.state, 'closed')
  assert.is(data.merged, true)
  assert.type(data.merged_at, 'string')
  const error = await failure(() => client().pulls.get({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 999 }))
  assert.is(error.status, 404)
  assert.equal(error.response?.data, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/pulls/pulls#get-a-pull-request', status: '404' })
})

test('repos.getCommit: an abbreviated SHA resolves to the real commit; an unknown one is 422', async () => {
  const full = await sha(fork, branches.denyattach)
  const { data } = await client().repos.getCommit({ owner: 'kinvolk', repo: 'kubernetes', ref: full.slice(0, 7) })
  assert.is(data.sha, full)
  assert.equal(
    data.parents.map((parent) => parent.sha),
    [await sha(fork, `${full}^`)],
  )
  assert.ok(data.commit.message.length > 0)
  assert.ok((data.files ?? []).length > 0)
  assert.is(data.html_url, `https://github.com/kinvolk/kubernetes/commit/${full}`)
  const error = await failure(() => client().repos.getCommit({ owner: 'kinvolk', repo: 'kubernetes', ref: 'deadbeef' }))
  assert.is(error.status, 422)
  assert.is((error.response?.data as { message: string }).message, 'No commit found for SHA: deadbeef')
})

test('repos.getBranch: a branch with slashes in its name', async () => {
  const { data } = await client().repos.getBranch({ owner: 'kinvolk', repo: 'kubernetes', branch: branches.denyattach })
  assert.is(data.name, branches.denyattach)
  assert.is(data.commit.sha, await sha(fork, branches.denyattach))
  assert.is(data._links.html, `https://github.com/kinvolk/kubernetes/tree/${branches.denyattach}`)
  const error = await failure(() => client().repos.getBranch({ owner: 'kinvolk', repo: 'kubernetes', branch: 'alban/nope' }))
  assert.is(error.status, 404)
  assert.is((error.response?.data as { message: string }).message, 'Branch not found')
})

test('a private repository is 404 without a token and visible with one', async () => {
  assert.is((await failure(() => client().repos.get({ owner: 'kinvolk', repo: 'secret' }))).status, 404)
  assert.is((await client(TOKEN).repos.get({ owner: 'kinvolk', repo: 'secret' })).data.private, true)
})

test('a wrong token is 401 Bad credentials', async () => {
  const error = await failure(() => client(WRONG_TOKEN).repos.get({ owner: 'kinvolk', repo: 'kubernetes' }))
  assert.is(error.status, 401)
  assert.equal(error.response?.data, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' })
})

const faults: { status: number; secondary?: boolean; message: RegExp; headers: (headers: Record<string, unknown>) => void }[] = [
  { status: 404, message: /^Not Found$/, headers: (headers) => assert.is(headers['x-ratelimit-resource'], 'core') },
  { status: 401, message: /^Bad credentials$/, headers: () => {} },
  {
    status: 403,
    message: /^API rate limit exceeded for user ID \d+\.$/,
    headers: (headers) => {
      assert.is(headers['x-ratelimit-remaining'], '0')
      assert.ok(Number(headers['x-ratelimit-reset']) > Date.now() / 1000)
    },
  },
  { status: 403, secondary: true, message: /^You have exceeded a secondary rate limit\./, headers: (headers) => assert.is(headers['retry-after'], '60') },
  { status: 429, message: /^You have exceeded a secondary rate limit\./, headers: (headers) => assert.is(headers['retry-after'], '60') },
  { status: 500, message: /^Server Error$/, headers: () => {} },
  { status: 502, message: /^Server Error$/, headers: () => {} },
  { status: 503, message: /^Service Unavailable$/, headers: () => {} },
]

for (const fault of faults) {
  test(`an injected ${fault.status}${fault.secondary ? ' (secondary rate limit)' : ''} reaches Octokit as a RequestError, once`, async () => {
    const path = `/repos/kinvolk/kubernetes/branches/${branches.denyattach}`
    github.state.fail({ path, status: fault.status, ...(fault.secondary ? { secondary: true } : {}) })
    const call = () => client(TOKEN).repos.getBranch({ owner: 'kinvolk', repo: 'kubernetes', branch: branches.denyattach })
    const error = await failure(call)
    assert.is(error.status, fault.status)
    assert.match((error.response?.data as { message: string }).message, fault.message)
    const headers = error.response?.headers as Record<string, unknown>
    assert.type(headers['x-ratelimit-limit'], 'string')
    fault.headers(headers)
    assert.is((await call()).status, 200)
  })
}

test('faults can last for several requests and target one method', async () => {
  const path = '/repos/kubernetes/kubernetes/issues/101/comments'
  github.state.fail({ path, method: 'POST', status: 502, times: 2 })
  await client(TOKEN).issues.listComments({ owner: 'kubernetes', repo: 'kubernetes', issue_number: 101 })
  const post = () => client(TOKEN).issues.createComment({ owner: 'kubernetes', repo: 'kubernetes', issue_number: 101, body: 'x' })
  assert.is((await failure(post)).status, 502)
  assert.is((await failure(post)).status, 502)
  const { data } = await post()
  github.state.comments.splice(github.state.comments.findIndex((comment) => comment.id === data.id), 1)
  assert.equal(github.state.faults, [])
})

test('network faults: a dropped connection is a RequestError without a response', async () => {
  const path = '/repos/kinvolk/kubernetes'
  github.state.fail({ path, kind: 'reset' })
  const reset = await failure(() => client(TOKEN).repos.get({ owner: 'kinvolk', repo: 'kubernetes' }))
  // How @octokit/request reports a fetch that failed: status 500 and no response.
  assert.is(reset.status, 500)
  assert.is(reset.response, undefined)
  assert.match(reset.message, /other side closed|ECONNRESET|socket|fetch failed/i)
  assert.equal(github.state.requests.at(-1), { method: 'GET', path, status: 0, login: 'alban' })
  assert.is(logLines.at(-1), `GET ${path} (reset) alban`)
  assert.is((await client(TOKEN).repos.get({ owner: 'kinvolk', repo: 'kubernetes' })).status, 200)
})

test('network faults: a request never answered runs into the client timeout, and close() ends those still waiting', async () => {
  const path = '/repos/kinvolk/kubernetes'
  const hanging = await startGitHub({ repos: [{ owner: 'kinvolk', name: 'kubernetes', path: fork }] })
  const octokit = new Octokit({ baseUrl: hanging.url, log: silent })
  hanging.state.fail({ path, kind: 'hang' })
  // Were the timeout not to fire, the request would wait for ever: a minute says so.
  const timedOut = await atMost(
    'the request with a 300 ms timeout',
    octokit.repos.get({ owner: 'kinvolk', repo: 'kubernetes', request: { signal: AbortSignal.timeout(300) } }).then(
      (): never => {
        throw new Error('the hung request was answered')
      },
      (error: unknown) => error as Error & { response?: unknown },
    ),
  )
  assert.match(timedOut.message, /abort|timeout/i)
  assert.is(timedOut.response, undefined)
  // The emulator still answers others.
  assert.is((await atMost('a request after the hung one', octokit.repos.get({ owner: 'kinvolk', repo: 'kubernetes' }))).status, 200)

  // One without a timeout of its own waits until close(), which does not wait for it.
  hanging.state.fail({ path, kind: 'hang' })
  const waiting = failure(() => octokit.repos.get({ owner: 'kinvolk', repo: 'kubernetes' }))
  while (hanging.state.faults.length > 0) await new Promise((resolve) => setTimeout(resolve, 10))
  // Were close() to wait for the request, it would wait for ever: a minute says so.
  await atMost('close() with a request still waiting', hanging.close())
  const dropped = await waiting
  assert.is(dropped.status, 500)
  assert.is(dropped.response, undefined)
  assert.equal(
    hanging.state.requests.map((request) => request.status),
    [0, 200, 0],
  )
})

test("users.getAuthenticated: the token's user; anonymous is 401", async () => {
  const { data } = await client(TOKEN).users.getAuthenticated()
  assert.is(data.login, 'alban')
  assert.is(data.type, 'User')
  assert.type(data.id, 'number')
  assert.is(data.html_url, 'https://github.com/alban')
  assert.is((await client(READ_ONLY_TOKEN).users.getAuthenticated()).data.login, 'reader')
  const anonymous = await failure(() => client().users.getAuthenticated())
  assert.is(anonymous.status, 401)
  assert.equal(anonymous.response?.data, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest/users/users#get-the-authenticated-user', status: '401' })
})

test("pulls.listCommits: the PR's commits that its base does not have, oldest first, paginated", async () => {
  const octokit = client(TOKEN)
  const { data } = await octokit.pulls.listCommits({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 101 })
  assert.equal(
    data.map((commit) => commit.sha),
    [await sha(fork, branches.denyattach)],
  )
  assert.is(data[0]!.parents[0]!.sha, await sha(upstream, 'master'))
  assert.match(data[0]!.commit.message, /DenyAttach/)

  // Two commits: one more on top of the head branch, in the fork.
  const head = await sha(fork, branches.denyattachfix)
  const tree = await sha(fork, `${head}^{tree}`)
  const more = (await must(['git', '-C', fork, 'commit-tree', tree, '-p', head, '-m', 'One more'], { env: { GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' } })).stdout.trim()
  github.state.pulls.push({ number: 105, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: 'alban/two' } })
  await must(['git', '-C', fork, 'update-ref', 'refs/heads/alban/two', more])
  try {
    const first = await octokit.pulls.listCommits({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 105, per_page: 1 })
    assert.equal(first.data.map((commit) => commit.sha), [head])
    assert.match(first.headers.link ?? '', 'page=2>; rel="next"')
    const all = await octokit.paginate(octokit.pulls.listCommits, { owner: 'kubernetes', repo: 'kubernetes', pull_number: 105, per_page: 1 })
    assert.equal(all.map((commit) => commit.sha), [head, more])
    const second = await octokit.pulls.listCommits({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 105, per_page: 1, page: 2 })
    assert.equal(second.data[0]!.parents.map((parent) => parent.sha), [head])
    assert.is(second.data[0]!.commit.message, 'One more')
    assert.is(second.data[0]!.html_url, `https://github.com/kubernetes/kubernetes/commit/${more}`)
    assert.not.ok('files' in second.data[0]!)
    assert.match(second.headers.link ?? '', 'page=1>; rel="prev"')
    assert.is((await octokit.pulls.get({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 105 })).data.commits, 2)
  } finally {
    github.state.pulls.pop()
  }
  assert.is((await failure(() => octokit.pulls.listCommits({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 999 }))).status, 404)
})

test('a PR follows its head branch, and keeps the last head seen once its fork is deleted', async () => {
  const octokit = client(TOKEN)
  const [first, second, third] = await Promise.all([branches.denyattach, branches.denyattachfix, branches.kubeadm].map((branch) => sha(fork, branch)))
  const moving: RepoSpec = { owner: 'moving', name: 'kubernetes', path: gone, parent: 'kubernetes/kubernetes' }
  const branch = 'alban/moving'
  const move = (to: string) => must(['git', '-C', gone, 'update-ref', `refs/heads/${branch}`, to])
  const get = async () => (await octokit.pulls.get({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 106 })).data
  await move(first!)
  github.state.repos.push(moving)
  github.state.pulls.push({ number: 106, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'moving/kubernetes', ref: branch } })
  try {
    assert.is((await get()).head.sha, first)
    await move(second!)
    const moved = await get()
    assert.is(moved.head.sha, second)
    assert.is(moved.head.repo?.full_name, 'moving/kubernetes')
    await move(third!)
    assert.equal(
      (await octokit.pulls.listCommits({ owner: 'kubernetes', repo: 'kubernetes', pull_number: 106 })).data.map((commit) => commit.sha),
      [third],
    )
    moving.deleted = true
    await move(first!)
    const kept = await get()
    assert.is(kept.head.repo, null)
    assert.is(kept.head.sha, third)
    assert.is((await must(['git', 'ls-remote', upstream, 'refs/pull/106/head'])).stdout, `${third}\trefs/pull/106/head\n`)
  } finally {
    github.state.pulls.splice(github.state.pulls.findIndex((pull) => pull.number === 106), 1)
    github.state.repos.splice(github.state.repos.indexOf(moving), 1)
    await must(['git', '-C', gone, 'update-ref', '-d', `refs/heads/${branch}`])
  }
})

test("webUrl 'self': html_url fields are on the emulator's own host", async () => {
  const own = await startGitHub({ repos: [{ owner: 'kinvolk', name: 'kubernetes', path: fork }], webUrl: 'self' })
  try {
    assert.is(own.web, own.url)
    const { data } = await new Octokit({ baseUrl: own.url, log: silent }).repos.get({ owner: 'kinvolk', repo: 'kubernetes' })
    assert.is(data.html_url, `${own.url}/kinvolk/kubernetes`)
  } finally {
    await own.close()
  }
  assert.is(github.web, 'https://github.com')
})

test('the primary rate limit runs out: 403 with x-ratelimit-remaining 0', async () => {
  const limited = await startGitHub({ repos: [{ owner: 'kinvolk', name: 'kubernetes', path: fork }], rateLimit: { anonymous: 2 } })
  try {
    const octokit = new Octokit({ baseUrl: limited.url, log: silent })
    assert.is((await octokit.repos.get({ owner: 'kinvolk', repo: 'kubernetes' })).headers['x-ratelimit-remaining'], '1')
    assert.is((await octokit.repos.get({ owner: 'kinvolk', repo: 'kubernetes' })).headers['x-ratelimit-remaining'], '0')
    const error = await failure(() => octokit.repos.get({ owner: 'kinvolk', repo: 'kubernetes' }))
    assert.is(error.status, 403)
    assert.is(error.response?.headers['x-ratelimit-remaining'], '0')
    assert.match((error.response?.data as { message: string }).message, /^API rate limit exceeded for 127\.0\.0\.1\./)
  } finally {
    await limited.close()
  }
})

test('a comment is created, then updated in place', async () => {
  const octokit = client(TOKEN)
  const created = await octokit.issues.createComment({ owner: 'kubernetes', repo: 'kubernetes', issue_number: 101, body: 'smoke test: running' })
  assert.is(created.status, 201)
  assert.is(created.data.user?.login, 'alban')
  assert.is(created.data.html_url, `https://github.com/kubernetes/kubernetes/pull/101#issuecomment-${created.data.id}`)
  const updated = await octokit.issues.updateComment({ owner: 'kubernetes', repo: 'kubernetes', comment_id: created.data.id, body: 'smoke test: passed' })
  assert.is(updated.data.id, created.data.id)
  assert.is(updated.data.body, 'smoke test: passed')
  const listed = await octokit.paginate(octokit.issues.listComments, { owner: 'kubernetes', repo: 'kubernetes', issue_number: 101, per_page: 1 })
  assert.equal(
    listed.map((comment) => comment.body),
    ['smoke test: passed'],
  )
})

test('comments need a token, one that may write', async () => {
  const create = (auth?: string) => () => client(auth).issues.createComment({ owner: 'kubernetes', repo: 'kubernetes', issue_number: 101, body: 'x' })
  const anonymous = await failure(create())
  assert.is(anonymous.status, 401)
  assert.is((anonymous.response?.data as { message: string }).message, 'Requires authentication')
  const readOnly = await failure(create(READ_ONLY_TOKEN))
  assert.is(readOnly.status, 403)
  assert.is((readOnly.response?.data as { message: string }).message, 'Resource not accessible by personal access token')
  assert.is((await failure(() => client(TOKEN).issues.createComment({ owner: 'kubernetes', repo: 'kubernetes', issue_number: 999, body: 'x' }))).status, 404)
})

test('tokens never appear in the log, which names who asked', async () => {
  assert.ok(logLines.length > 20)
  for (const line of logLines) for (const token of [TOKEN, READ_ONLY_TOKEN, WRONG_TOKEN]) assert.not.ok(line.includes(token), line)
  assert.ok(logLines.includes('GET /repos/kubernetes/kubernetes/pulls/101 200 alban'))
  assert.ok(logLines.includes('GET /repos/kinvolk/kubernetes 401 (bad credentials)'))
  assert.ok(logLines.includes(`GET /repos/kinvolk/kubernetes/branches/${branches.denyattach} 200 (anonymous)`))
})

test.run()
