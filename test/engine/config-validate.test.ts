// The pure validators of engine/config/validate.ts, case by case. Git ref names are
// also checked against the real `git check-ref-format`.
import { kubeSpawnPlugin } from '../../plugins/kube-spawn/plugin.ts'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import {
  branchNameProblem,
  clusterNameProblem,
  dockerTagProblem,
  imageRefProblem,
  isCommitId,
  isRemotePath,
  parseImageRef,
  refNameProblem,
  remoteProblem,
  repositoryPrefixProblem,
  tagNameProblem,
} from '../../engine/config/validate.ts'

const gitAccepts = (...args: string[]) => spawnSync('git', ['check-ref-format', ...args], { cwd: tmpdir() }).status === 0

const refNames: [name: string, problem: string | undefined][] = [
  ['alban/v1.8.5-beta.0-denyattach', undefined],
  ['v1.8.5-beta.0', undefined],
  ['main', undefined],
  ['feature/deep/nesting', undefined],
  ['a@b', undefined],
  ['é-unicode', undefined],
  ['', 'it is empty'],
  ['@', 'it is "@" alone'],
  ['a..b', 'it contains ".."'],
  ['a b', 'it contains a space'],
  ['tab\there', 'it contains a control character'],
  ['x~1', 'it contains "~"'],
  ['x^', 'it contains "^"'],
  ['a:b', 'it contains ":"'],
  ['what?', 'it contains "?"'],
  ['glob*', 'it contains "*"'],
  ['[x', 'it contains "["'],
  ['back\\slash', 'it contains "\\"'],
  ['a@{b', 'it contains "@{"'],
  ['/a', 'it has an empty "/"-separated part'],
  ['a/', 'it has an empty "/"-separated part'],
  ['a//b', 'it has an empty "/"-separated part'],
  ['foo.', 'it ends with "."'],
  ['.hidden', 'its part ".hidden" starts with "."'],
  ['a/.b', 'its part ".b" starts with "."'],
  ['a.lock', 'its part "a.lock" ends with ".lock"'],
  ['a.lock/b', 'its part "a.lock" ends with ".lock"'],
]

test('refNameProblem follows git check-ref-format --allow-onelevel', () => {
  for (const [name, problem] of refNames) {
    assert.is(refNameProblem(name), problem, name)
    assert.is(gitAccepts('--allow-onelevel', name), problem === undefined, `git and kspawn disagree on ${JSON.stringify(name)}`)
  }
})

test('branchNameProblem also refuses what git check-ref-format --branch refuses', () => {
  const cases: [string, string | undefined][] = [
    ['alban/v1.8.5-beta.0-denyattach', undefined],
    ['-x', 'it starts with "-"'],
    ['HEAD', 'HEAD is not a branch'],
    ['a..b', 'it contains ".."'],
  ]
  for (const [name, problem] of cases) {
    assert.is(branchNameProblem(name), problem, name)
    assert.is(gitAccepts('--branch', name), problem === undefined, `git and kspawn disagree on ${JSON.stringify(name)}`)
  }
})

test('tagNameProblem: a ref name that cannot pass for an option', () => {
  assert.is(tagNameProblem('v1.8.5-beta.0'), undefined)
  assert.is(tagNameProblem('-v1'), 'it starts with "-"')
  assert.is(tagNameProblem('v1..8'), 'it contains ".."')
})

test('isCommitId takes 7 to 40 hexadecimal digits', () => {
  const cases: [string, boolean][] = [
    ['c117bd71672b2da7c7777cddf0287b07d29b90e5', true],
    ['c117bd7', true],
    ['C117BD7', true],
    ['c117bd', false],
    ['c117bd71672b2da7c7777cddf0287b07d29b90e5a', false],
    ['g117bd7', false],
    ['', false],
  ]
  for (const [id, valid] of cases) assert.is(isCommitId(id), valid, id)
})

test('dockerTagProblem: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}', () => {
  const cases: [string, string | undefined][] = [
    ['v1.8.5-beta.0-denyattach', undefined],
    ['latest', undefined],
    ['_under', undefined],
    ['A', undefined],
    ['x'.repeat(128), undefined],
    ['', 'it is empty'],
    ['x'.repeat(129), 'it is 129 characters long, more than 128'],
    ['v1.8:bad', 'it contains ":"'],
    ['v1/8', 'it contains "/"'],
    ['with space', 'it contains a space'],
    ['.dot', 'it starts with "."'],
    ['-dash', 'it starts with "-"'],
  ]
  for (const [tag, problem] of cases) assert.is(dockerTagProblem(tag), problem, tag)
})

test("clusterNameProblem: kspawn's rule for every deployer, a lowercase DNS label", () => {
  const cases: [string, string | undefined][] = [
    ['denyattach', undefined],
    ['denyattachfix', undefined],
    ['deny-attach', undefined],
    ['a', undefined],
    ['1a', undefined],
    ['x'.repeat(63), undefined],
    // A deployer may refuse these (kube-spawn does, below); kspawn's own rule does not.
    ['deny2', undefined],
    ['7', undefined],
    ['', 'it is empty'],
    ['x'.repeat(64), 'it is 64 characters long, more than 63'],
    ['DenyAttach', 'it contains "D"'],
    ['deny_attach', 'it contains "_"'],
    ['deny.attach', 'it contains "."'],
    ['-deny', 'it starts or ends with "-"'],
    ['deny-', 'it starts or ends with "-"'],
  ]
  for (const [name, problem] of cases) assert.is(clusterNameProblem(name), problem, name)
})

test("kube-spawn's own rule on cluster names: not ending in a digit, which would collide with another cluster's machine", () => {
  const digit = (collision: string, suggestions: string) =>
    `it ends in a digit; kube-spawn v0.2 names machines kubespawn<cluster><index>, so ${collision}: use a name ending in a letter, such as ${suggestions}`
  const cases: [string, string | undefined][] = [
    ['denyattach', undefined],
    ['1a', undefined],
    ['deny2', digit('machine 0 of cluster "deny2" and machine 20 of cluster "deny" are both kubespawndeny20', '"deny-two" or "denyb"')],
    ['x1', digit('machine 0 of cluster "x1" and machine 10 of cluster "x" are both kubespawnx10', '"x-one" or "xa"')],
    ['web10', digit('machine 0 of cluster "web10" and machine 100 of cluster "web" are both kubespawnweb100', '"web-one-zero" or "webaj"')],
    ['7', digit('machine 0 of cluster "x1" and machine 10 of cluster "x" are both kubespawnx10', '"seven" or "g"')],
  ]
  const rule = kubeSpawnPlugin.clusterName!
  assert.is(rule.what, 'a lowercase DNS label not ending in a digit')
  for (const [name, problem] of cases) assert.is(rule.problem(name), problem, name)
})

const digest = `sha256:${'ab'.repeat(32)}`

test('parseImageRef splits registry, repository, tag and digest as Docker does', () => {
  const cases: [string, object][] = [
    [
      'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
      { registry: 'docker.io', repository: 'kinvolk/hyperkube-amd64', tag: 'v1.8.5-beta.0-denyattachfix' },
    ],
    ['gcr.io/google-containers/hyperkube-amd64:v1.8.5', { registry: 'gcr.io', repository: 'google-containers/hyperkube-amd64', tag: 'v1.8.5' }],
    ['127.0.0.1:5000/kinvolk/hyperkube-amd64:dev', { registry: '127.0.0.1:5000', repository: 'kinvolk/hyperkube-amd64', tag: 'dev' }],
    ['localhost/hyperkube', { registry: 'localhost', repository: 'hyperkube' }],
    ['[::1]:5000/hyperkube:x', { registry: '[::1]:5000', repository: 'hyperkube', tag: 'x' }],
    ['kinvolk/hyperkube-amd64:v1', { repository: 'kinvolk/hyperkube-amd64', tag: 'v1' }],
    ['busybox', { repository: 'busybox' }],
    [`busybox@${digest}`, { repository: 'busybox', digest }],
    [`quay.io/a/b:t@${digest}`, { registry: 'quay.io', repository: 'a/b', tag: 't', digest }],
    ['a__b/c-d.e---f:1', { repository: 'a__b/c-d.e---f', tag: '1' }],
  ]
  for (const [ref, parts] of cases) {
    assert.equal(parseImageRef(ref), { ref, ...parts }, ref)
    assert.is(imageRefProblem(ref), undefined, ref)
  }
})

test('imageRefProblem says what is wrong with a reference', () => {
  const cases: [string, string][] = [
    ['', 'it has no repository name'],
    [':tag', 'it has no repository name'],
    ['docker.io/Kinvolk/x:1', 'its part "Kinvolk" is not lowercase letters and digits separated by ".", "_", "__" or "-"'],
    ['docker.io//x', 'it has an empty "/"-separated part'],
    ['x/', 'it has an empty "/"-separated part'],
    ['a___b', 'its part "a___b" is not lowercase letters and digits separated by ".", "_", "__" or "-"'],
    ['-a', 'its part "-a" is not lowercase letters and digits separated by ".", "_", "__" or "-"'],
    ['x:v1.8:bad', 'its part "x:v1.8" is not lowercase letters and digits separated by ".", "_", "__" or "-"'],
    ['x:.bad', 'its tag ".bad" is not valid: it starts with "."'],
    ['x@sha256:abc', 'its digest "sha256:abc" is not sha256:<64 hex digits> or sha512:<128 hex digits>'],
    ['bad_host.io:x/y', 'its registry "bad_host.io:x" is not a host name or address with an optional port'],
    [`${'a'.repeat(256)}:t`, 'its name is 256 characters long, more than 255'],
  ]
  for (const [ref, problem] of cases) {
    assert.is(imageRefProblem(ref), problem, ref)
    assert.is(parseImageRef(ref), undefined, ref)
  }
})

test('repositoryPrefixProblem: a registry, a repository path, or both', () => {
  const cases: [string, string | undefined][] = [
    ['docker.io/kinvolk', undefined],
    ['127.0.0.1:5000', undefined],
    ['127.0.0.1:5000/kinvolk', undefined],
    ['kinvolk', undefined],
    ['docker.io/kinvolk/', 'it has an empty "/"-separated part'],
    ['docker.io/Kinvolk', 'its part "Kinvolk" is not lowercase letters and digits separated by ".", "_", "__" or "-"'],
    ['docker.io/kinvolk:tag', 'it has a tag'],
    ['kinvolk:tag', 'its registry "kinvolk:tag" is not a host name or address with an optional port'],
    [`docker.io/kinvolk@${digest}`, 'it has a digest'],
  ]
  for (const [prefix, problem] of cases) assert.is(repositoryPrefixProblem(prefix), problem, prefix)
})

test('remoteProblem: https, ssh, file URLs, user@host:path, and paths', () => {
  const cases: [string, string | undefined][] = [
    ['https://github.com/kinvolk/kubernetes', undefined],
    ['ssh://git@github.com/kinvolk/kubernetes.git', undefined],
    ['git@github.com:kinvolk/kubernetes.git', undefined],
    ['file:///srv/git/kubernetes.git', undefined],
    ['/srv/git/kubernetes.git', undefined],
    ['./remotes/fork.git', undefined],
    ['../fork.git', undefined],
    ['..', undefined],
    ['~/src/kubernetes', undefined],
    ['', 'it is empty'],
    ['github.com/kinvolk/kubernetes', 'it is not a URL, user@host:path, or a path starting with /, ./, ../ or ~/'],
    ['fork.git', 'it is not a URL, user@host:path, or a path starting with /, ./, ../ or ~/'],
    ['http://github.com/kinvolk/kubernetes', 'its scheme "http://" is not https://, ssh:// or file://'],
    ['git://github.com/kinvolk/kubernetes', 'its scheme "git://" is not https://, ssh:// or file://'],
    ['https://github.com', 'it has no repository path'],
    ['https://user:secret@github.com/kinvolk/kubernetes', 'it contains a password'],
    ['https://exa mple.com/x', 'it is not a valid URL'],
    ['-oProxyCommand=touch@x:y', 'it is not a URL, user@host:path, or a path starting with /, ./, ../ or ~/'],
    ['git@-oProxyCommand=x:y', 'it is not a URL, user@host:path, or a path starting with /, ./, ../ or ~/'],
    ['ssh://-oProxyCommand=x/y', 'its host starts with "-"'],
  ]
  for (const [remote, problem] of cases) assert.is(remoteProblem(remote), problem, remote)
})

test('isRemotePath tells local paths from URLs', () => {
  assert.ok(isRemotePath('/srv/fork.git'))
  assert.ok(isRemotePath('./fork.git'))
  assert.ok(isRemotePath('~/fork.git'))
  assert.not.ok(isRemotePath('file:///srv/fork.git'))
  assert.not.ok(isRemotePath('git@github.com:kinvolk/kubernetes.git'))
  assert.not.ok(isRemotePath('~other/fork.git'))
})

test.run()
