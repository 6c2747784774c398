// Every form `kspawn pr` accepts, and the exact message for what it does not.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { UsageError } from '../../engine/errors.ts'
import { apiForUrl, apiUrlProblem, DEFAULT_API, hasCredentials, parseGitHubRef, webHostOf, type GitHubRef } from '../../github/github-url.ts'

const SHA = 'eb0c0262c5e4e1a1d0e1d8f4f3b8c2a1d9e7f6a5'
const ENTERPRISE = { webHosts: ['github.example.com'] }

const accepted: [input: string, expected: GitHubRef, options?: { webHosts: string[] }][] = [
  ['https://github.com/kubernetes/kubernetes/pull/56187', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187 }],
  ['https://github.com/kubernetes/kubernetes/pull/56187/', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187 }],
  ['https://github.com/kubernetes/kubernetes/pull/56187/files', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187 }],
  ['https://github.com/kubernetes/kubernetes/pull/56187/commits', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187 }],
  ['https://github.com/kubernetes/kubernetes/pull/56187/files?diff=split#diff-1234', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187 }],
  ['https://github.com/kubernetes/kubernetes/pull/56187#issuecomment-1', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187 }],
  ['http://www.github.com/kubernetes/kubernetes/pull/7', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 7 }],
  ['  https://GitHub.com/kubernetes/kubernetes/pull/7\n', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 7 }],
  [`https://github.com/kubernetes/kubernetes/pull/56187/commits/${SHA}`, { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187, commit: SHA }],
  ['https://github.com/kubernetes/kubernetes/pull/56187/commits/C117BD7', { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 56187, commit: 'c117bd7' }],
  ['kinvolk/kubernetes#12', { kind: 'pull', owner: 'kinvolk', repo: 'kubernetes', number: 12 }],
  ['my-org/repo.name_x#1', { kind: 'pull', owner: 'my-org', repo: 'repo.name_x', number: 1 }],
  [`https://github.com/kinvolk/kubernetes/commit/${SHA}`, { kind: 'commit', owner: 'kinvolk', repo: 'kubernetes', sha: SHA }],
  ['https://github.com/kinvolk/kubernetes/commit/c117bd7', { kind: 'commit', owner: 'kinvolk', repo: 'kubernetes', sha: 'c117bd7' }],
  ['https://github.com/kinvolk/kubernetes/commit/c117bd7?diff=unified', { kind: 'commit', owner: 'kinvolk', repo: 'kubernetes', sha: 'c117bd7' }],
  ['https://github.com/kinvolk/kubernetes/tree/alban/v1.8.5-beta.0-denyattach', { kind: 'branch', owner: 'kinvolk', repo: 'kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' }],
  ['https://github.com/kinvolk/kubernetes/tree/master', { kind: 'branch', owner: 'kinvolk', repo: 'kubernetes', branch: 'master' }],
  ['https://github.com/kinvolk/kubernetes/tree/alban%2Fweird%2Bname', { kind: 'branch', owner: 'kinvolk', repo: 'kubernetes', branch: 'alban/weird+name' }],
  ['https://github.example.com/team/kubernetes/pull/3/files', { kind: 'pull', owner: 'team', repo: 'kubernetes', number: 3 }, ENTERPRISE],
  ['https://GITHUB.example.com/team/kubernetes/tree/a/b', { kind: 'branch', owner: 'team', repo: 'kubernetes', branch: 'a/b' }, ENTERPRISE],
  ['https://github.com/team/kubernetes/commit/abcdef0', { kind: 'commit', owner: 'team', repo: 'kubernetes', sha: 'abcdef0' }, ENTERPRISE],
]

for (const [input, expected, options] of accepted) {
  test(`accepts ${JSON.stringify(input)}`, () => {
    assert.equal(parseGitHubRef(input, options), expected)
  })
}

const FORMS = [
  'Accepted forms:',
  '  https://github.com/OWNER/REPO/pull/N (also with /files, /commits, a query or a fragment)',
  '  OWNER/REPO#N',
  '  https://github.com/OWNER/REPO/commit/SHA (7 to 40 hex digits)',
  '  https://github.com/OWNER/REPO/pull/N/commits/SHA',
  '  https://github.com/OWNER/REPO/tree/BRANCH',
].join('\n')

const rejected: [input: string, reason: string, options?: { webHosts: string[] }][] = [
  ['', 'it is neither a URL nor OWNER/REPO#N'],
  ['56187', 'it is neither a URL nor OWNER/REPO#N'],
  ['kinvolk/kubernetes', 'it is neither a URL nor OWNER/REPO#N'],
  ['github.com/kinvolk/kubernetes/pull/1', 'it is neither a URL nor OWNER/REPO#N'],
  ['kinvolk/kubernetes#', 'the pull request number "" is not a positive whole number'],
  ['kinvolk/kubernetes#0', 'the pull request number "0" is not a positive whole number'],
  ['kinvolk/kubernetes#12a', 'the pull request number "12a" is not a positive whole number'],
  ['kinvolk/kubernetes#99999999999999999999', 'the pull request number "99999999999999999999" is not a positive whole number'],
  ['-kinvolk/kubernetes#1', 'the owner "-kinvolk" is not a GitHub account name: it starts or ends with "-"'],
  ['kin--volk/kubernetes#1', 'the owner "kin--volk" is not a GitHub account name: it contains "--"'],
  ['kin_volk/kubernetes#1', 'the owner "kin_volk" is not a GitHub account name: it contains "_"'],
  [`${'a'.repeat(40)}/kubernetes#1`, `the owner "${'a'.repeat(40)}" is not a GitHub account name: it is 40 characters long, more than 39`],
  ['kinvolk/kube$rnetes#1', 'the repository "kube$rnetes" is not a GitHub repository name: it contains "$"'],
  ['https://github.com//kubernetes/pull/1', 'the path "//kubernetes/pull/1" names no repository'],
  ['ftp://github.com/kinvolk/kubernetes/pull/1', 'the scheme "ftp" is not http or https'],
  ['https://gitlab.com/kinvolk/kubernetes/pull/1', 'the host "gitlab.com" is not github.com, and no GitHub Enterprise host is configured'],
  ['https://gitlab.com/kinvolk/kubernetes/pull/1', 'the host "gitlab.com" is neither github.com nor github.example.com', ENTERPRISE],
  ['https://github.com/kinvolk', 'the path "/kinvolk" names no repository'],
  ['https://github.com/kinvolk/kubernetes', 'it is a repository, not a pull request, commit or branch'],
  ['https://github.com/kinvolk/kubernetes/issues/5', '"/issues" pages are not pull requests, commits or branches'],
  ['https://github.com/kinvolk/kubernetes/pulls', '"/pulls" pages are not pull requests, commits or branches'],
  ['https://github.com/kinvolk/kubernetes/pull/x', 'the pull request number "x" is not a positive whole number'],
  ['https://github.com/kinvolk/kubernetes/pull/1/checks', '"/checks" after the pull request number is not /files, /commits or /commits/SHA'],
  ['https://github.com/kinvolk/kubernetes/pull/1/commits/abc', 'the commit "abc" is not 7 to 40 hex digits'],
  ['https://github.com/kinvolk/kubernetes/pull/1/commits/c117bd7/x', '"/commits/c117bd7/x" after the pull request number is not /files, /commits or /commits/SHA'],
  ['https://github.com/kinvolk/kubernetes/commit/', 'the commit "" is not 7 to 40 hex digits'],
  ['https://github.com/kinvolk/kubernetes/commit/master', 'the commit "master" is not 7 to 40 hex digits'],
  [`https://github.com/kinvolk/kubernetes/commit/${SHA}0`, `the commit "${SHA}0" is not 7 to 40 hex digits`],
  ['https://github.com/kinvolk/kubernetes/commit/c117bd7/x', '"/x" follows the commit SHA'],
  ['https://github.com/kinvolk/kubernetes/tree/', 'the branch name "" is not valid: it is empty'],
  ['https://github.com/kinvolk/kubernetes/tree/a..b', 'the branch name "a..b" is not valid: it contains ".."'],
  ['https://github.com/kinvolk/kubernetes/tree/-rf', 'the branch name "-rf" is not valid: it starts with "-"'],
  ['https://github.com/kinvolk/kubernetes/tree/x%20y', 'the branch name "x y" is not valid: it contains a space'],
  ['https://github.com/kinvolk/kubernetes/tree/x%zz', '"x%zz" is not valid percent-encoding'],
]

for (const [input, reason, options] of rejected) {
  test(`rejects ${JSON.stringify(input)}`, () => {
    let error: unknown
    try {
      parseGitHubRef(input, options)
    } catch (caught) {
      error = caught
    }
    assert.instance(error, UsageError)
    const enterprise = options ? '\n  (github.com may also be github.example.com)' : ''
    assert.is((error as UsageError).message, `<url>: expected a GitHub pull request, commit or branch, found "${input}" (${reason})\n${FORMS}${enterprise}`)
    assert.is((error as UsageError).exitCode, 2)
  })
}

test('the argument is named as the caller names it', () => {
  assert.throws(() => parseGitHubRef('nope', { argument: '--from' }), (error: Error) => error.message.startsWith('--from: expected a GitHub pull request'))
})

test('the web host of an API: github.com, an Enterprise server, GHE.com', () => {
  assert.is(webHostOf(DEFAULT_API), 'github.com')
  assert.is(webHostOf('https://github.example.com/api/v3'), 'github.example.com')
  assert.is(webHostOf('https://api.acme.ghe.com'), 'acme.ghe.com')
  assert.is(webHostOf('http://127.0.0.1:8080'), '127.0.0.1:8080')
})

test('an API URL must be http(s) without query or credentials, and credentials are never repeated', () => {
  assert.is(apiUrlProblem('https://github.example.com/api/v3'), undefined)
  assert.is(apiUrlProblem('github.example.com'), 'it is not a URL')
  assert.is(apiUrlProblem('ftp://github.example.com'), 'the scheme "ftp" is not http or https')
  assert.is(apiUrlProblem('https://github.example.com/api/v3?x=1'), 'it has a query or a fragment')
  assert.is(apiUrlProblem('https://me:ghp_x@github.example.com/api/v3'), 'it holds credentials; give the token in GITHUB_TOKEN instead')
  assert.ok(hasCredentials('https://me:ghp_x@github.example.com'))
  assert.not.ok(hasCredentials('https://github.example.com'))
})

test('which API a URL is asked of: --github-api for all; else github.com URLs go to github.com, the rest to github.api', () => {
  const ghe = 'https://ghe.example.com/api/v3'
  assert.is(apiForUrl('https://github.com/a/b/pull/1', undefined, undefined), DEFAULT_API)
  assert.is(apiForUrl('a/b#1', undefined, undefined), DEFAULT_API)
  assert.is(apiForUrl('https://github.com/a/b/pull/1', undefined, ghe), DEFAULT_API)
  assert.is(apiForUrl('https://www.github.com/a/b/pull/1', undefined, ghe), DEFAULT_API)
  assert.is(apiForUrl('https://ghe.example.com/a/b/pull/1', undefined, ghe), ghe)
  assert.is(apiForUrl('a/b#1', undefined, ghe), ghe)
  assert.is(apiForUrl('https://github.com/a/b/pull/1', 'http://127.0.0.1:9', ghe), 'http://127.0.0.1:9')
})

test.run()
