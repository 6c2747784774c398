// The git command lines kspawn builds, and how it names remotes, without running git.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { describeRef } from '../../tasks/fetch-source.ts'
import { detachArgv, fetchArgv, gitCommand, parseRemoteUrl, remoteAddArgv, remoteName, remoteNameFor, sameRemote, worktreeAddArgv } from '../../tasks/git.ts'

test('a remote is named after the owner in its URL, or after a local repository', () => {
  assert.is(remoteNameFor('https://github.com/kinvolk/kubernetes'), 'kinvolk')
  assert.is(remoteNameFor('https://github.com/kinvolk/kubernetes.git'), 'kinvolk')
  assert.is(remoteNameFor('git@github.com:kinvolk/kubernetes.git'), 'kinvolk')
  assert.is(remoteNameFor('ssh://git@github.com/kinvolk/kubernetes'), 'kinvolk')
  assert.is(remoteNameFor('/srv/git/kinvolk-kubernetes.git'), 'kinvolk-kubernetes')
  assert.is(remoteNameFor('file:///srv/git/kubernetes.git'), 'kubernetes')
  // scp-like without a user, a port, another scheme: git takes them, and so does the one parser of remote URLs.
  assert.is(remoteNameFor('github.com:kinvolk/kubernetes.git'), 'kinvolk')
  assert.is(remoteNameFor('ssh://git@github.com:22/kinvolk/kubernetes.git/'), 'kinvolk')
  assert.is(remoteNameFor('git+ssh://git@github.com/kinvolk/kubernetes'), 'kinvolk')
  assert.is(remoteNameFor('https://github.com/kubernetes.git'), 'kubernetes')
  assert.is(remoteNameFor('https://github.com/'), 'kspawn')
})

test('a remote name is made of the characters git takes, with a fallback when none is left', () => {
  assert.is(remoteName('Alban K', 'github'), 'Alban-K')
  assert.is(remoteName('.-kinvolk-.', 'github'), 'kinvolk')
  assert.is(remoteName('...', 'github'), 'github')
})

test('remote URLs: a host (lower case, without user or port) and a path, or a local path', () => {
  assert.equal(parseRemoteUrl('https://alban@GitHub.com:443/kinvolk/kubernetes.git/'), { host: 'github.com', path: 'kinvolk/kubernetes' })
  assert.equal(parseRemoteUrl('git@github.com:kinvolk/kubernetes.git'), { host: 'github.com', path: 'kinvolk/kubernetes' })
  assert.equal(parseRemoteUrl('git@example.com:/srv/git/kubernetes.git'), { host: 'example.com', path: 'srv/git/kubernetes' })
  assert.equal(parseRemoteUrl('file:///srv/git/kubernetes.git'), { path: '/srv/git/kubernetes' })
  assert.equal(parseRemoteUrl('/srv/git/kubernetes/.git'), { path: '/srv/git/kubernetes' })
  // A colon after a slash is part of a local path.
  assert.equal(parseRemoteUrl('./mirrors/a:b'), { path: './mirrors/a:b' })
  assert.equal(parseRemoteUrl('/srv/a:b.git'), { path: '/srv/a:b' })
})

test('a trailing slash or .git names the same repository', () => {
  assert.ok(sameRemote('https://github.com/kinvolk/kubernetes', 'https://github.com/kinvolk/kubernetes.git'))
  assert.ok(sameRemote('https://github.com/kinvolk/kubernetes/', 'https://github.com/kinvolk/kubernetes'))
  assert.not.ok(sameRemote('https://github.com/kinvolk/kubernetes', 'https://github.com/kubernetes/kubernetes'))
  // One repository over https and ssh: a remote added as git@github.com:... is reused for the https clone URL the API gives.
  assert.ok(sameRemote('git@github.com:kinvolk/kubernetes.git', 'https://github.com/kinvolk/kubernetes.git'))
  assert.ok(sameRemote('ssh://git@github.com/kinvolk/kubernetes', 'https://GitHub.com/kinvolk/kubernetes'))
  assert.ok(sameRemote('https://alban@github.com/kinvolk/kubernetes.git', 'git@github.com:kinvolk/kubernetes'))
  assert.not.ok(sameRemote('git@github.com:kinvolk/kubernetes.git', 'https://github.com/alban/kubernetes.git'))
  assert.not.ok(sameRemote('git@github.com:kinvolk/kubernetes.git', 'https://gitlab.com/kinvolk/kubernetes.git'))
  assert.ok(sameRemote('/srv/git/kubernetes.git', '/srv/git/kubernetes'))
  assert.not.ok(sameRemote('/srv/git/kubernetes.git', '/srv/other/kubernetes'))
  assert.ok(sameRemote('file:///srv/git/kubernetes.git', '/srv/git/kubernetes'))
  assert.ok(sameRemote('git+ssh://git@github.com/kinvolk/kubernetes', 'https://github.com/kinvolk/kubernetes.git'))
  assert.ok(sameRemote('github.com:kinvolk/kubernetes', 'https://github.com/kinvolk/kubernetes'))
  // A relative path is a folder here, not a host.
  assert.not.ok(sameRemote('github.com/kinvolk/kubernetes', 'https://github.com/kinvolk/kubernetes'))
})

test('the commands that change the checkout name it with -C, and fetch nothing but the refspecs', () => {
  const checkout = '/home/dev/go/src/k8s.io/kubernetes'
  assert.equal(remoteAddArgv(checkout, 'kinvolk', 'https://github.com/kinvolk/kubernetes'), ['git', '-C', checkout, 'remote', 'add', 'kinvolk', 'https://github.com/kinvolk/kubernetes'])
  assert.equal(fetchArgv(checkout, 'kinvolk', ['+refs/heads/b:refs/remotes/kinvolk/b']), [
    'git', '-C', checkout, 'fetch', '--no-tags', '--no-write-fetch-head', 'kinvolk', '+refs/heads/b:refs/remotes/kinvolk/b',
  ])
  assert.equal(worktreeAddArgv(checkout, '/w', 'c117bd7'), ['git', '-C', checkout, 'worktree', 'add', '--detach', '/w', 'c117bd7'])
  assert.equal(worktreeAddArgv(checkout, '/w', 'c117bd7', { force: true }), ['git', '-C', checkout, 'worktree', 'add', '--force', '--detach', '/w', 'c117bd7'])
  assert.equal(detachArgv('/w', 'c117bd7'), ['git', '-C', '/w', 'checkout', '--detach', 'c117bd7'])
})

test("kspawn's own GIT_DIR (in a git hook, say) cannot redirect a command", () => {
  const command = gitCommand(['git', 'status'], '/w')
  assert.is(command.cwd, '/w')
  assert.ok(command.env && 'GIT_DIR' in command.env && command.env.GIT_DIR === undefined)
  assert.ok(command.env && 'GIT_WORK_TREE' in command.env && 'GIT_INDEX_FILE' in command.env)
})

test('refs as titles say them', () => {
  assert.is(describeRef({ branch: 'alban/v1.8.5-beta.0-denyattach' }), 'branch alban/v1.8.5-beta.0-denyattach')
  assert.is(describeRef({ tag: 'v1.8.5-beta.0' }), 'tag v1.8.5-beta.0')
  assert.is(describeRef({ commit: 'eb0c026372a67eb49bbf80aa619f10ee94527bac' }), 'commit eb0c026372a6')
})

test.run()
