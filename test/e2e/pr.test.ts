// `kspawn pr <url>` end to end in the test world: the real CLI asks the GitHub
// API emulator (Octokit pointed at it with --github-api), whose clone URLs are
// copies of the world's bare repositories, so the commits it names are really
// fetched, built, spawned and smoke-tested. What is asserted is what a user
// sees: the plan, messages, exit codes, the worktree's commit, the comment on
// the pull request, and no token anywhere.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Octokit } from '@octokit/rest'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { worldRepos } from '../world/github/repos.ts'
import { startGitHub, type GitHub } from '../world/github/server.ts'
import { branches, checkout as makeCheckout, messages, must, world, type Checkout, type Result } from '../world/harness.ts'
import { kspawn, writeConfig } from './project.ts'

const test = suite('kspawn pr')

const TOKEN = 'ghp_kspawnPrE2eToken0123456789abcdefABCDE'
const READ_ONLY_TOKEN = 'ghp_kspawnPrReadOnly0123456789abcdefABCD'
const WRONG_TOKEN = 'ghp_kspawnPrWrongToken0123456789abcdefAB'
const GH_CLI_TOKEN = 'gho_kspawnPrFromGhCli0123456789abcdefABC'
const OTHER_TOKEN = 'ghp_kspawnPrSomeoneElse0123456789abcdefA'
const SECRETS = [TOKEN, READ_ONLY_TOKEN, WRONG_TOKEN, GH_CLI_TOKEN, OTHER_TOKEN]

let home = ''
let user: Checkout
let config = ''
let upstream = ''
let fork = ''
let github: GitHub
let noGh = ''
/** Everything kspawn printed, and every line the emulator logged: checked for tokens at the end. */
const seen: string[] = []
/** Called with each line the emulator logs, after it has answered. */
let onRequest: ((line: string) => void) | undefined

const sha = async (repo: string, ref: string) => (await must(['git', '-C', repo, 'rev-parse', ref])).stdout.trim()

const author = { GIT_AUTHOR_NAME: 'Alban', GIT_AUTHOR_EMAIL: 'alban@kinvolk.io', GIT_COMMITTER_NAME: 'Alban', GIT_COMMITTER_EMAIL: 'alban@kinvolk.io' }

/** A new commit with the tree of `ref`, on top of it, in a bare repository; no ref points at it. */
function commitOnTop(repo: string, ref: string, message: string): string {
  const parent = execFileSync('git', ['-C', repo, 'rev-parse', `${ref}^{commit}`], { encoding: 'utf8' }).trim()
  return execFileSync('git', ['-C', repo, 'commit-tree', `${parent}^{tree}`, '-p', parent, '-m', message], { encoding: 'utf8', env: { ...process.env, ...author } }).trim()
}

/** `kspawn pr <args> --github-api <emulator>`, with no token unless env gives one and no gh login. */
async function pr(args: string[], env: Record<string, string> = {}, api = true): Promise<Result> {
  const result = await kspawn(home, ['pr', ...args, ...(api ? ['--github-api', github.url] : [])], { GITHUB_TOKEN: '', GH_TOKEN: '', GH_CONFIG_DIR: noGh, ...env })
  seen.push(result.output)
  return result
}

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function ok(result: Result): Result {
  assert.is(result.exitCode, 0, result.output)
  return result
}

/** Both texts are in `text`, `first` before `then` (a missing one fails, rather than counting as position -1). */
function inOrder(text: string, first: string, then: string, what: string): void {
  const a = text.indexOf(first)
  const b = text.indexOf(then)
  assert.ok(a >= 0, `${what}: no ${JSON.stringify(first)} in:\n${text}`)
  assert.ok(b >= 0, `${what}: no ${JSON.stringify(then)} in:\n${text}`)
  assert.ok(a < b, `${what}: ${JSON.stringify(first)} comes after ${JSON.stringify(then)} in:\n${text}`)
}

/**
 * The line the API server answered to the smoke test's `kubectl attach`, as
 * the summary shows it under "seen": the pod in it is the one kspawn ran.
 * Not the expected message, which kspawn also prints from the config.
 */
function attachAnswer(stdout: string): { pod: string; line: string } {
  const attach = /^ +seen: \$ kubectl attach (kspawn-smoke-[0-9a-f]+)$/m.exec(stdout)
  assert.ok(attach, `the summary shows the attach:\n${stdout.slice(-3000)}`)
  const pod = attach[1]!
  const answer = new RegExp(`^ {14}(Error from server \\(Forbidden\\): pods "${pod}" is forbidden: .*)$`, 'm').exec(stdout)
  assert.ok(answer, `the summary shows the API server's answer for ${pod}:\n${stdout.slice(-3000)}`)
  return { pod, line: answer[1]! }
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-pr-'))
  noGh = join(home, 'gh-none')
  await mkdir(noGh)
  const repos = await worldRepos(join(home, 'remotes'))
  ;({ upstream, fork } = repos)
  // A branch whose commits no checkout has yet: one commit on top of denyattach.
  await must(['git', '-C', fork, 'branch', 'alban/moving', await commitOnTop(fork, branches.denyattach, 'Moving on')])
  github = await startGitHub({
    repos: repos.repos,
    pulls: [
      { number: 101, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: branches.denyattach }, title: 'Add DenyAttach' },
      { number: 102, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'gone/kubernetes', ref: branches.denyattachfix }, title: 'Fix DenyAttach' },
      { number: 103, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: branches.denyattachfix }, state: 'closed', merged: true },
      { number: 104, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: 'alban/moving' }, title: 'A moving branch' },
    ],
    tokens: { [TOKEN]: { login: 'alban' }, [READ_ONLY_TOKEN]: { login: 'reader', write: false }, [GH_CLI_TOKEN]: { login: 'alban' }, [OTHER_TOKEN]: { login: 'bob' } },
    webUrl: 'self',
    log: (line) => {
      seen.push(line)
      onRequest?.(line)
    },
  })
  user = await makeCheckout({ upstreamRef: 'master' })
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout: user.tree,
    workdir: join(home, 'work'),
    variants: [`denyattachfix: { source: { remote: ${JSON.stringify(fork)}, branch: ${JSON.stringify(branches.denyattachfix)} }, tag: 'fix', smoke: [admission.denies('attach', { message: ${JSON.stringify(messages.denyattachfix)} })] }`],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
})

test.after(async () => {
  await github?.close()
  await user?.remove()
  if (home) await rm(home, { recursive: true, force: true })
})

test('every URL form is resolved to its exact commit, shown before anything runs', async () => {
  const deny = await sha(fork, `refs/heads/${branches.denyattach}`)
  const fix = await sha(fork, `refs/heads/${branches.denyattachfix}`)
  const base = await sha(upstream, 'refs/heads/master')
  const pull = 'https://github.com/kubernetes/kubernetes/pull/101'
  const forms: [url: string, commit: string, cluster: string, tag: string][] = [
    [pull, deny, 'pr101-kinvolk', `v1.8.5-beta.0-pr101-${deny.slice(0, 7)}`],
    [`${pull}/files`, deny, 'pr101-kinvolk', `v1.8.5-beta.0-pr101-${deny.slice(0, 7)}`],
    [`${pull}/commits`, deny, 'pr101-kinvolk', `v1.8.5-beta.0-pr101-${deny.slice(0, 7)}`],
    [`${pull}?w=1#discussion_r42`, deny, 'pr101-kinvolk', `v1.8.5-beta.0-pr101-${deny.slice(0, 7)}`],
    ['kubernetes/kubernetes#101', deny, 'pr101-kinvolk', `v1.8.5-beta.0-pr101-${deny.slice(0, 7)}`],
    [`${pull}/commits/${deny.slice(0, 10).toUpperCase()}`, deny, 'pr101-kinvolk', `v1.8.5-beta.0-pr101-${deny.slice(0, 7)}`],
    [`https://github.com/kinvolk/kubernetes/commit/${fix}`, fix, `${fix.slice(0, 7)}-kinvolk`, `v1.8.5-beta.0-kinvolk-${fix.slice(0, 7)}`],
    [`https://github.com/kinvolk/kubernetes/commit/${fix.slice(0, 7)}`, fix, `${fix.slice(0, 7)}-kinvolk`, `v1.8.5-beta.0-kinvolk-${fix.slice(0, 7)}`],
    [`https://github.com/kinvolk/kubernetes/tree/${branches.denyattachfix}`, fix, 'v1-8-5-beta-0-denyattachfix-kinvolk', `v1.8.5-beta.0-kinvolk-${fix.slice(0, 7)}`],
    // A GitHub Enterprise host: the web host of --github-api.
    [`${github.web}/kinvolk/kubernetes/tree/${branches.denyattachfix}`, fix, 'v1-8-5-beta-0-denyattachfix-kinvolk', `v1.8.5-beta.0-kinvolk-${fix.slice(0, 7)}`],
  ]
  for (const [url, commit, cluster, tag] of forms) {
    const result = ok(await pr([url, '--dry-run'], { GITHUB_TOKEN: TOKEN }))
    const out = result.stdout
    assert.match(out, /^kspawn pr: /, url)
    assert.match(out, ` at ${commit.slice(0, 12)}`, url)
    assert.match(out, `  variant  ${cluster}\n`, url)
    assert.match(out, `  image    gcr.io/google-containers/hyperkube-amd64:${tag}\n`, url)
    assert.match(out, `  github   ${github.url}, with the token from GITHUB_TOKEN\n`, url)
    // The worktree is put at the commit itself, never at a branch name.
    assert.match(out, `$ git -C ${user.tree} worktree add --detach ${join(home, 'work', 'worktrees', cluster, 'src', 'k8s.io', 'kubernetes')} ${commit}\n`, url)
    assert.match(out, `$ kube-spawn -d ${world().KSPAWN_WORLD_KUBE_SPAWN_DIR} create --dev -t ${tag} -c ${cluster} -n 2\n`, url)
    // The plan comes before the first task.
    inOrder(out, '  cluster  ', '$ ', url)
  }
  const pullPlan = (await pr([pull, '--dry-run'], { GITHUB_TOKEN: TOKEN })).stdout
  assert.match(pullPlan, `  code     kinvolk/kubernetes ${branches.denyattach} at ${deny.slice(0, 12)}\n`)
  assert.match(pullPlan, `  base     kubernetes/kubernetes master at ${base.slice(0, 12)} (v1.8.5-beta.0)\n`)
  assert.match(pullPlan, `  remote   kinvolk ${fork} (added to your checkout)\n`)
  assert.match(pullPlan, `  smoke    attach is denied with "${messages.denyattach}" (from the config)\n`)
  assert.match(pullPlan, `$ git -C ${user.tree} fetch --no-tags --no-write-fetch-head kinvolk +refs/heads/${branches.denyattach}:refs/remotes/kinvolk/${branches.denyattach}\n`)
  // A dry run changes nothing: no remote, no worktree, no run folder.
  assert.is((await must(['git', 'remote'], { cwd: user.tree })).stdout.trim(), 'origin')
  assert.not.ok(await readdir(join(home, 'work')).catch(() => undefined))
})

test('a URL on the configured GitHub Enterprise host is asked of github.api from the config', async () => {
  const enterprise = join(home, 'enterprise')
  await mkdir(enterprise, { recursive: true })
  const text = await readFile(config, 'utf8')
  await writeFile(join(enterprise, 'kspawn.config.ts'), text.replace('  smoke:', `  github: { api: ${JSON.stringify(`${github.url}/`)} },\n  smoke:`))
  const result = await kspawn(enterprise, ['pr', `${github.web}/kubernetes/kubernetes/pull/101`, '--dry-run'], { GITHUB_TOKEN: TOKEN, GH_TOKEN: '', GH_CONFIG_DIR: noGh })
  seen.push(result.output)
  ok(result)
  assert.match(result.stdout, `  github   ${github.url}, with the token from GITHUB_TOKEN\n`)
  // Without the config's github.api, that host is not GitHub.
  const unknown = await pr([`${github.web}/kubernetes/kubernetes/pull/101`, '--dry-run'], {}, false)
  assert.is(unknown.exitCode, 2, unknown.output)
  assert.match(unknown.stderr, `is not github.com, and no GitHub Enterprise host is configured`)
})

test('anything else exits 2 with the accepted forms, and nothing is asked or run', async () => {
  const before = github.state.requests.length
  for (const url of ['https://gitlab.com/kubernetes/kubernetes/pull/1', 'kubernetes/kubernetes', 'https://github.com/kubernetes/kubernetes/issues/5', 'https://github.com/kubernetes/kubernetes/pull/0']) {
    const result = await pr([url, '--dry-run'], { GITHUB_TOKEN: TOKEN })
    assert.is(result.exitCode, 2, url)
    assert.match(result.stderr, `<url>: expected a GitHub pull request, commit or branch, found "${url}"`, url)
    assert.match(result.stderr, 'Accepted forms:\n  https://github.com/OWNER/REPO/pull/N', url)
  }
  const flags: [args: string[], message: string][] = [
    [['--cluster', 'pr1'], '--cluster: expected a cluster name (a lowercase DNS label not ending in a digit), found "pr1" (it ends in a digit'],
    [['--tag', 'v1:2'], '--tag: expected a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), found "v1:2" (it contains ":")'],
    [['--remote', 'a b'], '--remote: expected a git remote name (letters, digits, ".", "_" and "-"), found "a b" (it contains " ")'],
    [['--smoke', 'nope'], `--smoke: expected a variant of ${config} whose smoke tests to run (denyattachfix), found "nope"`],
    [['--github-timeout', '0'], '--github-timeout: expected a number of seconds above 0, found 0'],
    [['--comment'], '--comment: expected a GitHub token that may comment on the pull request, found none: set GITHUB_TOKEN or GH_TOKEN, or log in with gh auth login'],
  ]
  for (const [args, message] of flags) {
    const result = await pr(['kubernetes/kubernetes#101', '--dry-run', ...args])
    assert.is(result.exitCode, 2, args.join(' '))
    assert.match(result.stderr, message, args.join(' '))
  }
  const commit = await pr(['https://github.com/kinvolk/kubernetes/commit/abcdef1', '--comment'], { GITHUB_TOKEN: TOKEN })
  assert.is(commit.exitCode, 2)
  assert.match(commit.stderr, '--comment: expected a pull request URL to comment on, found a commit (https://github.com/kinvolk/kubernetes/commit/abcdef1)')
  const api = await pr(['kubernetes/kubernetes#101', '--github-api', `https://alban:${TOKEN}@ghe.example.com/api/v3`], {}, false)
  assert.is(api.exitCode, 2)
  assert.match(api.stderr, '--github-api: expected a GitHub API URL, such as https://github.example.com/api/v3, found a URL with credentials')
  assert.is(github.state.requests.length, before, 'no request reached GitHub')
  assert.not.ok(await readdir(join(home, 'work')).catch(() => undefined))
})

test('the token comes from GITHUB_TOKEN, GH_TOKEN or gh auth token; without one kspawn says it asks anonymously', async () => {
  const anonymous = ok(await pr(['kubernetes/kubernetes#101', '--dry-run']))
  assert.match(anonymous.stderr, `warning: no GitHub token (GITHUB_TOKEN, GH_TOKEN or gh auth login): asking ${github.url} anonymously, which GitHub limits to 60 requests an hour and which cannot see private repositories`)
  assert.match(anonymous.stdout, `  github   ${github.url}, anonymously\n`)
  assert.is(github.state.requests.at(-1)?.login, undefined)

  const gh = ok(await pr(['kubernetes/kubernetes#101', '--dry-run'], { GH_TOKEN: TOKEN }))
  assert.match(gh.stdout, 'with the token from GH_TOKEN\n')
  assert.is(github.state.requests.at(-1)?.login, 'alban')

  // The real gh CLI, logged in for the emulator's host.
  const ghConfig = join(home, 'gh')
  await mkdir(ghConfig, { recursive: true })
  await writeFile(join(ghConfig, 'hosts.yml'), `${new URL(github.url).host}:\n    oauth_token: ${GH_CLI_TOKEN}\n    user: alban\n    git_protocol: https\n`)
  const cli = ok(await pr(['kubernetes/kubernetes#101', '--dry-run'], { GH_CONFIG_DIR: ghConfig }))
  assert.match(cli.stdout, 'with the token from gh auth token\n')
  assert.is(github.state.requests.at(-1)?.login, 'alban')
  // What kspawn pr reads to make the plan runs through the runner: --renderer verbose shows each command (the token is looked for in all output at the end).
  const verbose = ok(await pr(['kubernetes/kubernetes#101', '--dry-run', '--renderer', 'verbose'], { GH_CONFIG_DIR: ghConfig }))
  assert.match(verbose.stdout, `plan: $ gh auth token --hostname ${new URL(github.url).host}\n`)
  assert.match(verbose.stdout, `plan: $ git -C ${user.tree} describe --tags --abbrev=0 --match 'v[0-9]*' `)
  assert.match(verbose.stdout, `plan: $ git -C ${user.tree} config --get-regexp '^remote\\..*\\.url$'\n`)
  inOrder(verbose.stdout, 'plan: $ git', 'kspawn pr: ', 'the reads come before the plan')
  // GITHUB_TOKEN comes first.
  const first = await pr(['kubernetes/kubernetes#101', '--dry-run'], { GITHUB_TOKEN: WRONG_TOKEN, GH_CONFIG_DIR: ghConfig })
  assert.is(first.exitCode, 2)
  assert.match(first.stderr, 'GitHub rejected the token from GITHUB_TOKEN: it is wrong, expired or revoked (401 Bad credentials) when kspawn asked to read pull request #101 of kubernetes/kubernetes: make a new token and put it in GITHUB_TOKEN, or unset GITHUB_TOKEN to ask anonymously (public repositories only)')
})

test('GitHub and network failures: a message that says what happened and what to do', async () => {
  const pull = '/repos/kubernetes/kubernetes/pulls/101'
  const count = (path: string) => github.state.requests.filter((request) => request.path === path).length
  const fails = async (args: string[], env: Record<string, string>, code: number, message: string) => {
    const result = await pr([...args, '--dry-run'], env)
    assert.is(result.exitCode, code, result.output)
    assert.match(result.stderr, message)
    assert.not.match(result.stdout, '$ git', 'nothing ran')
    return result
  }
  const withToken = { GITHUB_TOKEN: TOKEN }

  await fails(['kubernetes/kubernetes#999'], withToken, 2, 'GitHub has no pull request #999 in kubernetes/kubernetes (404 Not Found')
  await fails(['https://github.com/kinvolk/kubernetes/tree/nope'], withToken, 2, 'GitHub has no branch nope in kinvolk/kubernetes (404 Branch not found')
  await fails(['https://github.com/kinvolk/kubernetes/commit/deadbeef'], withToken, 2, 'kinvolk/kubernetes has no commit deadbeef (GitHub: No commit found for SHA: deadbeef): check the URL')
  const fix = await sha(fork, `refs/heads/${branches.denyattachfix}`)
  await fails([`https://github.com/kubernetes/kubernetes/pull/101/commits/${fix}`], withToken, 2, `<url>: commit ${fix} is not one of the 1 commits of pull request #101 of kubernetes/kubernetes`)
  // A private repository answers 404 to anonymous requests, and is there with a token.
  const secret = `https://github.com/kinvolk/secret/commit/${fix}`
  await fails([secret], {}, 2, 'GitHub has no repository kinvolk/secret (404 Not Found from')
  await fails([secret], {}, 2, 'If the repository is private, set GITHUB_TOKEN (or GH_TOKEN, or log in with gh auth login) to a token that can read it: GitHub answers 404 to anonymous requests for private repositories.')
  ok(await pr([secret, '--dry-run'], withToken))

  // The primary rate limit, with its reset time from the headers.
  const reset = Number((await new Octokit({ baseUrl: github.url, auth: TOKEN }).rest.repos.get({ owner: 'kubernetes', repo: 'kubernetes' })).headers['x-ratelimit-reset'])
  const at = `${new Date(reset * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`
  github.state.fail({ path: pull, status: 403 })
  await fails(['kubernetes/kubernetes#101'], withToken, 1, `GitHub's API rate limit is used up (5000 requests an hour for the token from GITHUB_TOKEN): kspawn could not read pull request #101 of kubernetes/kubernetes. It resets at ${at} (in `)
  github.state.fail({ path: pull, status: 403 })
  await fails(['kubernetes/kubernetes#101'], {}, 1, 'requests an hour for anonymous requests from this address): kspawn could not read pull request #101 of kubernetes/kubernetes. It resets at ')
  github.state.fail({ path: pull, status: 403, secondary: true, retryAfter: 120 })
  await fails(['kubernetes/kubernetes#101'], withToken, 1, "GitHub's secondary rate limit, which limits bursts of requests, stopped kspawn from asking to read pull request #101 of kubernetes/kubernetes: wait 2m 00s and rerun.")

  // 5xx and 429 are retried with backoff, and a bounded number of times.
  let before = count(pull)
  github.state.fail({ path: pull, status: 502, times: 2 })
  const retried = ok(await pr(['kubernetes/kubernetes#101', '--dry-run'], withToken))
  assert.match(retried.stderr, `warning: GitHub answered 502 Server Error to GET ${pull}: retrying in 1.0s (retry 1 of 3)\n`)
  assert.match(retried.stderr, `warning: GitHub answered 502 Server Error to GET ${pull}: retrying in 2.0s (retry 2 of 3)\n`)
  assert.is(count(pull) - before, 3)
  before = count(pull)
  github.state.fail({ path: pull, status: 503, times: 10 })
  await fails(['kubernetes/kubernetes#101'], withToken, 1, 'GitHub answered 503 Service Unavailable, 4 times over the retries, when kspawn asked to read pull request #101 of kubernetes/kubernetes: GitHub may be having trouble (https://www.githubstatus.com); try again later.')
  assert.is(count(pull) - before, 4, 'one request and 3 retries')
  github.state.faults.length = 0
  github.state.fail({ path: pull, status: 429, retryAfter: 1 })
  const limited = ok(await pr(['kubernetes/kubernetes#101', '--dry-run'], withToken))
  assert.match(limited.stderr, `warning: GitHub answered 429 You have exceeded a secondary rate limit.`)
  // Retrying a 404 or 401 cannot help.
  before = count('/repos/kubernetes/kubernetes/pulls/999')
  await pr(['kubernetes/kubernetes#999', '--dry-run'], withToken)
  assert.is(count('/repos/kubernetes/kubernetes/pulls/999') - before, 1)

  // The network: a dropped connection, nobody listening, no answer in time.
  github.state.fail({ path: pull, kind: 'reset' })
  await fails(['kubernetes/kubernetes#101'], withToken, 1, `could not reach the GitHub API at ${github.url} to read pull request #101 of kubernetes/kubernetes: `)
  const nobody = `http://127.0.0.1:${await closedPort()}`
  const closed = await pr(['kubernetes/kubernetes#101', '--dry-run', '--github-api', nobody], withToken, false)
  assert.is(closed.exitCode, 1)
  assert.match(closed.stderr, `could not reach the GitHub API at ${nobody} to read pull request #101 of kubernetes/kubernetes: `)
  assert.match(closed.stderr, 'ECONNREFUSED')
  assert.match(closed.stderr, `Check that ${nobody} is your GitHub's API URL (--github-api, or github.api in the config) and that it is up, and rerun.`)
  github.state.fail({ path: pull, kind: 'hang' })
  await fails(['kubernetes/kubernetes#101', '--github-timeout', '1'], withToken, 1, `the GitHub API at ${github.url} did not answer within 1.0s when kspawn asked to read pull request #101 of kubernetes/kubernetes: try again, or wait longer with --github-timeout <seconds>`)
  github.state.faults.length = 0
})

test('a closed or merged pull request runs, with a warning that says so', async () => {
  const fix = await sha(fork, `refs/heads/${branches.denyattachfix}`)
  const result = ok(await pr(['kubernetes/kubernetes#103', '--dry-run'], { GITHUB_TOKEN: TOKEN }))
  assert.match(result.stderr, `warning: pull request #103 of kubernetes/kubernetes is merged: kspawn runs its commit ${fix.slice(0, 12)} as it was, which may not be what master has now`)
})

test('--comment with --dry-run reads from GitHub, posts nothing, and says so', async () => {
  const logged: string[] = []
  onRequest = (line) => logged.push(line)
  const requests = github.state.requests.length
  const comments = github.state.comments.length
  try {
    const result = ok(await pr(['https://github.com/kubernetes/kubernetes/pull/101', '--comment', '--dry-run'], { GITHUB_TOKEN: TOKEN }))
    assert.match(result.stdout, `Nothing was posted (--dry-run): without it, kspawn would comment on ${github.web}/kubernetes/kubernetes/pull/101 with the result, or update its comment there.\n`)
    assert.not.match(result.stdout, /Commented on|Updated the comment/)
    assert.ok(logged.length > 0, 'GitHub was asked about the pull request')
    assert.equal(logged.filter((line) => !line.startsWith('GET ')), [], 'only reads')
    assert.equal(github.state.requests.slice(requests).filter((request) => request.method !== 'GET'), [])
    assert.is(github.state.comments.length, comments)
  } finally {
    onRequest = undefined
  }
})

test('a remote name your checkout uses for another repository is refused before anything runs; --remote picks another', async () => {
  await must(['git', 'remote', 'add', 'kinvolk', '/srv/elsewhere/kubernetes.git'], { cwd: user.tree })
  try {
    const refused = await pr(['kubernetes/kubernetes#101', '--dry-run'], { GITHUB_TOKEN: TOKEN })
    assert.is(refused.exitCode, 2)
    assert.match(refused.stderr, `your checkout ${user.tree} has a remote "kinvolk" for /srv/elsewhere/kubernetes.git, but the code comes from ${fork}: kspawn does not change your remotes. Name another remote to add with --remote <name> (e.g. --remote kinvolk-pr).`)
    const other = ok(await pr(['kubernetes/kubernetes#101', '--dry-run', '--remote', 'kinvolk-pr'], { GITHUB_TOKEN: TOKEN }))
    assert.match(other.stdout, `  remote   kinvolk-pr ${fork} (added to your checkout)\n`)
    assert.match(other.stdout, `$ git -C ${user.tree} remote add kinvolk-pr ${fork}\n`)
  } finally {
    await must(['git', 'remote', 'remove', 'kinvolk'], { cwd: user.tree })
  }
})

test('a pull request built, spawned and smoke-tested, its result commented once and the comment updated in place', async () => {
  const deny = await sha(fork, `refs/heads/${branches.denyattach}`)
  const url = 'https://github.com/kubernetes/kubernetes/pull/101'
  const worktree = join(home, 'work', 'worktrees', 'pr101-kinvolk', 'src', 'k8s.io', 'kubernetes')
  try {
    // A token that may read but not comment: the run passes, commenting fails, and the exit status says so.
    const readOnly = await pr([url, '--comment'], { GITHUB_TOKEN: READ_ONLY_TOKEN })
    assert.is(readOnly.exitCode, 1, readOnly.output)
    assert.match(readOnly.stdout, 'pr: 1 of 1 variant passed')
    assert.match(readOnly.stderr, 'GitHub refused to let kspawn comment on pull request #101 of kubernetes/kubernetes (403 Resource not accessible by personal access token): the token from GITHUB_TOKEN may not do that. Commenting needs')
    assert.is(github.state.comments.length, 0)

    const first = ok(await pr([url, '--comment', '--recreate'], { GITHUB_TOKEN: TOKEN }))
    assert.match(first.stdout, 'pr: 1 of 1 variant passed')
    const answer = attachAnswer(first.stdout)
    assert.is(answer.line, `Error from server (Forbidden): pods "${answer.pod}" is forbidden: ${messages.denyattach}`)
    assert.is(await sha(worktree, 'HEAD'), deny)
    assert.match((await must(['git', 'remote', '-v'], { cwd: user.tree })).stdout, `kinvolk\t${fork} (fetch)`)
    assert.is(github.state.comments.length, 1)
    const comment = github.state.comments[0]!
    assert.match(first.stdout, `Commented on pull request #101: ${github.web}/kubernetes/kubernetes/pull/101#issuecomment-${comment.id}\n`)
    assert.is(comment.login, 'alban')
    assert.match(comment.body, '<!-- kspawn pr result -->\n### ✅ kspawn passed: the smoke tests pass\n')
    assert.match(comment.body, `Commit \`${deny.slice(0, 12)}\` (kinvolk/kubernetes ${branches.denyattach} at ${deny.slice(0, 12)}), built as \`gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-pr101-${deny.slice(0, 7)}\` and run on the kube-spawn cluster \`pr101-kinvolk\`.`)
    // The comment shows what the server answered, not only what was expected of it.
    assert.match(comment.body, `| attach is denied with "${messages.denyattach}" | ✅ passed | `)
    assert.match(comment.body, `<br>${answer.line}<br>`)
    assert.not.match(comment.body, home, 'no local paths')

    // Someone else quoting kspawn's comment: that comment is not kspawn's to update.
    await new Octokit({ baseUrl: github.url, auth: OTHER_TOKEN }).rest.issues.createComment({ owner: 'kubernetes', repo: 'kubernetes', issue_number: 101, body: `> ${comment.body}\nNice!` })
    // A rerun with other smoke tests, which this patch fails: the same comment now says so. This time the
    // token may not read /user (as a GitHub App's): kspawn's comment is then the one its marker opens.
    github.state.fail({ path: '/user', status: 403 })
    const second = await pr([url, '--comment', '--recreate', '--smoke', 'denyattachfix'], { GITHUB_TOKEN: TOKEN })
    assert.is(second.exitCode, 1, second.output)
    assert.match(second.stdout, 'pr: 0 of 1 variant passed')
    assert.match(second.stdout, `Updated the comment on pull request #101: ${github.web}/kubernetes/kubernetes/pull/101#issuecomment-${comment.id}\n`)
    const mine = github.state.comments.filter((candidate) => candidate.login === 'alban')
    assert.is(mine.length, 1, 'one comment, updated in place')
    assert.is(mine[0]!.id, comment.id)
    assert.match(mine[0]!.body, '### ❌ kspawn failed: a smoke test failed\n')
    assert.match(mine[0]!.body, `| attach is denied with "${messages.denyattachfix}" | ❌ failed | `)
    // The server's answer, with the message this build has, which is not the one expected.
    const refused = attachAnswer(second.stdout)
    assert.is(refused.line, `Error from server (Forbidden): pods "${refused.pod}" is forbidden: ${messages.denyattach}`)
    assert.match(mine[0]!.body, `<br>${refused.line}<br>`)
    assert.match(github.state.comments.find((candidate) => candidate.login === 'bob')!.body, '✅ kspawn passed', "bob's comment is as bob wrote it")
    const posts = github.state.requests.filter((request) => request.method === 'POST').length
    const patches = github.state.requests.filter((request) => request.method === 'PATCH').length
    assert.equal([posts, patches], [3, 1], "the read-only attempt, the creation, bob's comment, one update")
  } finally {
    await kspawn(home, ['down', 'pr101-kinvolk'])
  }
})

test('a pull request whose fork is gone is fetched from the base repository as pull/N/head', async () => {
  const fix = await sha(fork, `refs/heads/${branches.denyattachfix}`)
  const result = ok(await pr(['kubernetes/kubernetes#102', '--smoke', 'denyattachfix', '--teardown'], { GITHUB_TOKEN: TOKEN }))
  assert.match(result.stderr, 'warning: the repository pull request #102 of kubernetes/kubernetes came from (gone:')
  assert.match(result.stderr, 'is gone: kspawn fetches pull/102/head from kubernetes/kubernetes instead')
  assert.match(result.stdout, `  code     kubernetes/kubernetes pull/102/head at ${fix.slice(0, 12)}\n`)
  assert.match(result.stdout, `  remote   kubernetes ${upstream} (added to your checkout)\n`)
  assert.match(result.stdout, `  variant  pr102-gone\n`)
  const answer = attachAnswer(result.stdout)
  assert.is(answer.line, `Error from server (Forbidden): pods "${answer.pod}" is forbidden: ${messages.denyattachfix}`)
  assert.match(result.stdout, 'pr: 1 of 1 variant passed')
  assert.is(await sha(join(home, 'work', 'worktrees', 'pr102-gone', 'src', 'k8s.io', 'kubernetes'), 'HEAD'), fix)
  const log = await readFile(join(home, 'work', 'runs', (await readdir(join(home, 'work', 'runs'))).filter((name) => name.endsWith('-pr')).sort().at(-1)!, 'pr102-gone', 'fetch-source.log'), 'utf8')
  assert.match(log, `git -C ${user.tree} fetch --no-tags --no-write-fetch-head kubernetes refs/pull/102/head`)
})

test('the worktree is at the commit GitHub named, even if the branch moves on or is force-pushed meanwhile', async () => {
  const head = await sha(fork, 'refs/heads/alban/moving')
  const worktree = join(home, 'work', 'worktrees', 'pr104-kinvolk', 'src', 'k8s.io', 'kubernetes')
  // As soon as GitHub has answered, someone pushes a new commit onto the branch.
  let moved = ''
  onRequest = (line) => {
    if (!line.startsWith('GET /repos/kubernetes/kubernetes/pulls/104 200') || moved) return
    moved = commitOnTop(fork, head, 'Pushed after kspawn asked')
    execFileSync('git', ['-C', fork, 'update-ref', 'refs/heads/alban/moving', moved])
  }
  try {
    const result = ok(await pr(['kubernetes/kubernetes#104', '--teardown'], { GITHUB_TOKEN: TOKEN }))
    assert.ok(moved, 'the branch moved')
    assert.match(result.stdout, `  code     kinvolk/kubernetes alban/moving at ${head.slice(0, 12)}\n`)
    assert.is(await sha(worktree, 'HEAD'), head)
    assert.match(result.output, `alban/moving of ${fork} has moved on to ${moved.slice(0, 12)}: the worktree is put at ${head.slice(0, 12)}, the commit asked for`)
    assert.match(result.stdout, 'pr: 1 of 1 variant passed')

    // Force-pushed: the branch no longer has the commit GitHub named, which is fetched by itself.
    const named = commitOnTop(fork, moved, 'Another one')
    await must(['git', '-C', fork, 'update-ref', 'refs/heads/alban/moving', named])
    moved = ''
    onRequest = (line) => {
      if (!line.startsWith('GET /repos/kubernetes/kubernetes/pulls/104 200') || moved) return
      moved = execFileSync('git', ['-C', fork, 'rev-parse', `refs/heads/${branches.denyattachfix}`], { encoding: 'utf8' }).trim()
      execFileSync('git', ['-C', fork, 'update-ref', 'refs/heads/alban/moving', moved])
    }
    const forced = ok(await pr(['kubernetes/kubernetes#104', '--teardown'], { GITHUB_TOKEN: TOKEN }))
    assert.match(forced.stdout, `  code     kinvolk/kubernetes alban/moving at ${named.slice(0, 12)}\n`)
    assert.match(forced.output, `alban/moving of ${fork} no longer leads to ${named.slice(0, 12)} (force-pushed?): fetching that commit by itself`)
    assert.is(await sha(worktree, 'HEAD'), named)
  } finally {
    onRequest = undefined
  }
})

test('no token appears in any output, log, state or run file', async () => {
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        // The worktrees are Kubernetes sources and build output.
        if (entry.name === 'worktrees' || entry.name === 'remotes' || entry.name === 'gh') continue
        await walk(path)
      } else if (entry.isFile()) {
        files.push(path)
      }
    }
  }
  await walk(home)
  await walk(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)
  assert.ok(files.some((file) => file.endsWith('events.jsonl')), 'run folders were searched')
  assert.ok(seen.length > 30, 'outputs were collected')
  for (const secret of SECRETS) {
    for (const text of seen) assert.not.match(text, secret, 'a token in output')
    for (const file of files) assert.not.match(await readFile(file, 'utf8'), secret, `a token in ${file}`)
  }
})

test.run()
