// The variant kspawn pr derives from what a URL resolved to: names that are
// valid where they go (a DNS label not ending in a digit, a Docker tag, a git
// remote), the base version read from the user's checkout, and a remote name
// that is not taken by another repository. The checkout is read through the
// runner, as kspawn pr does: in dry-run, which runs commands that only read.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { Interrupted, UsageError } from '../../engine/errors.ts'
import type { KspawnEvent } from '../../engine/run/events.ts'
import { createRunner } from '../../engine/runner/runner.ts'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import type { Target } from '../../github/github-target.ts'
import { kubeSpawn } from '../../plugins/kube-spawn/index.ts'
import { kubeSpawnPlugin } from '../../plugins/kube-spawn/plugin.ts'
import { checkChoices, clusterName, derivePrVariant } from '../../github/pr-variant.ts'

const SHA = 'c117bd7a6f09e2ab0123456789abcdef01234567'

function pullTarget(change: Partial<Target> = {}): Target {
  return {
    ref: { kind: 'pull', owner: 'kubernetes', repo: 'kubernetes', number: 55123 },
    title: 'pull request #55123 of kubernetes/kubernetes, "Add DenyAttach"',
    htmlUrl: 'https://github.com/kubernetes/kubernetes/pull/55123',
    sha: SHA,
    remote: { url: 'https://github.com/kinvolk/kubernetes.git', owner: 'kinvolk' },
    fetchRef: 'refs/heads/alban/v1.8.5-beta.0-denyattach',
    from: 'kinvolk/kubernetes alban/v1.8.5-beta.0-denyattach at c117bd7a6f09',
    author: 'kinvolk',
    versionHints: [],
    pull: { number: 55123, owner: 'kubernetes', repo: 'kubernetes', state: 'open', merged: false, base: { fullName: 'kubernetes/kubernetes', ref: 'master', sha: 'f'.repeat(40) } },
    warnings: [],
    ...change,
  }
}

let checkout = ''
let tagged = ''
const gitIn = (repo: string, ...args: string[]) =>
  execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'k', GIT_AUTHOR_EMAIL: 'k@example.com', GIT_COMMITTER_NAME: 'k', GIT_COMMITTER_EMAIL: 'k@example.com' } }).trim()
const git = (...args: string[]) => gitIn(checkout, ...args)

test.before(async () => {
  checkout = await mkdtemp(join(tmpdir(), 'kspawn-pr-variant-'))
  git('init', '--quiet', '-b', 'master')
  git('commit', '--quiet', '--allow-empty', '-m', 'release')
  git('tag', 'v1.8.5-beta.0')
  git('commit', '--quiet', '--allow-empty', '-m', 'after the release')
  tagged = git('rev-parse', 'HEAD')
  git('remote', 'add', 'origin', 'git@github.com:kubernetes/kubernetes.git')
})

test.after(async () => {
  await rm(checkout, { recursive: true, force: true })
})

let events: KspawnEvent[] = []
const runner = createRunner({ runDir: tmpdir(), dryRun: true, emit: (event) => events.push(event) })
const derive = (target: Target, choices = {}) => derivePrVariant({ target, checkout, choices, smoke: [], deployer: kubeSpawn(), run: (command) => runner.run(command, { id: 'plan' }) })

test.before.each(() => {
  events = []
})

test('a pull request: <base version>-pr<N>-<short sha>, cluster pr<N>-<head owner>, remote named for the head owner', async () => {
  const derived = await derive(pullTarget({ versionHints: ['f'.repeat(40), tagged] }))
  assert.is(derived.baseVersion, 'v1.8.5-beta.0')
  assert.is(derived.variant.tag, 'v1.8.5-beta.0-pr55123-c117bd7')
  assert.is(derived.variant.cluster, 'pr55123-kinvolk')
  assert.is(derived.variant.name, 'pr55123-kinvolk')
  assert.equal(derived.variant.build, {
    remote: 'https://github.com/kinvolk/kubernetes.git',
    ref: { commit: SHA, via: 'refs/heads/alban/v1.8.5-beta.0-denyattach' },
    remoteName: 'kinvolk',
  })
  assert.equal(derived.remote, { name: 'kinvolk', url: 'https://github.com/kinvolk/kubernetes.git', existing: false })
  assert.equal(derived.notes, [])
})

test('without the base commit in the checkout, the tag has no version and a note says how to get one', async () => {
  const derived = await derive(pullTarget({ versionHints: ['f'.repeat(40)] }))
  assert.is(derived.baseVersion, undefined)
  assert.is(derived.variant.tag, 'pr55123-c117bd7')
  assert.equal(derived.notes, [
    `your checkout ${checkout} does not have kubernetes/kubernetes master at ffffffffffff, so the tag cannot start with the Kubernetes version it is based on: fetch it into your checkout, or name the tag with --tag`,
  ])
})

test('a remote of the checkout with the same repository (over ssh) is reused, under its own name', async () => {
  // A pull request whose fork is gone is fetched from its base repository; its names still say whose it is.
  const derived = await derive(pullTarget({ remote: { url: 'https://github.com/kubernetes/kubernetes.git', owner: 'kubernetes' }, author: 'gone' }))
  assert.equal(derived.remote, { name: 'origin', url: 'https://github.com/kubernetes/kubernetes.git', existing: true })
  assert.is(derived.variant.build.remoteName, 'origin')
  assert.is(derived.variant.cluster, 'pr55123-gone')
})

test('a remote name taken by another repository is refused, naming --remote', async () => {
  git('remote', 'add', 'kinvolk', 'https://example.com/someone-else/kubernetes.git')
  try {
    const error = await derive(pullTarget()).catch((caught: unknown) => caught)
    assert.instance(error, UsageError)
    assert.is(
      (error as UsageError).message,
      `your checkout ${checkout} has a remote "kinvolk" for https://example.com/someone-else/kubernetes.git, but the code comes from https://github.com/kinvolk/kubernetes.git: kspawn does not change your remotes. Name another remote to add with --remote <name> (e.g. --remote kinvolk-pr).`,
    )
    const chosen = await derive(pullTarget(), { remote: 'alban' })
    assert.equal(chosen.remote, { name: 'alban', url: 'https://github.com/kinvolk/kubernetes.git', existing: false })
  } finally {
    git('remote', 'remove', 'kinvolk')
  }
})

test('--cluster, --tag and --remote replace what is derived', async () => {
  const derived = await derive(pullTarget(), { cluster: 'denyattach', tag: 'v1.8.5-beta.0-denyattach', remote: 'alban' })
  assert.is(derived.variant.cluster, 'denyattach')
  assert.is(derived.variant.name, 'denyattach')
  assert.is(derived.variant.tag, 'v1.8.5-beta.0-denyattach')
  assert.is(derived.remote.name, 'alban')
})

test('commits and branches: <short sha>-<owner> and <last branch segment>-<owner>', async () => {
  const commit = await derive(pullTarget({ ref: { kind: 'commit', owner: 'kinvolk', repo: 'kubernetes', sha: 'c117bd7' }, pull: undefined, versionHints: [tagged] }))
  assert.is(commit.variant.cluster, 'c117bd7-kinvolk')
  assert.is(commit.variant.tag, 'v1.8.5-beta.0-kinvolk-c117bd7')
  const branch = await derive(pullTarget({ ref: { kind: 'branch', owner: 'kinvolk', repo: 'kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' }, pull: undefined }))
  assert.is(branch.variant.cluster, 'v1-8-5-beta-0-denyattach-kinvolk')
  assert.is(branch.variant.tag, 'kinvolk-c117bd7')
})

test('the checkout is read by commands of the runner, which run in dry-run and show as events; the remotes read is not shown', async () => {
  const missing = 'f'.repeat(40)
  await derive(pullTarget({ versionHints: [missing, tagged] }))
  const describe = (commit: string) => formatCommandLine(['git', '-C', checkout, 'describe', '--tags', '--abbrev=0', '--match', 'v[0-9]*', `${commit}^{commit}`])
  const remotes = formatCommandLine(['git', '-C', checkout, 'config', '--get-regexp', '^remote\\..*\\.url$'])
  const commands = events.flatMap((event) => (event.kind === 'cmd' ? [event] : []))
  assert.equal(
    commands.map(({ step, commandLine, cwd, dryRun }) => ({ step, commandLine, cwd, dryRun })),
    [describe(missing), describe(tagged), remotes].map((commandLine) => ({ step: 'plan', commandLine, cwd: checkout, dryRun: false })),
  )
  const ends = events.flatMap((event) => (event.kind === 'end' ? [[event.commandLine, event.exitCode]] : []))
  assert.equal(ends, [
    [describe(missing), 128],
    [describe(tagged), 0],
    [remotes, 0],
  ])
  const output = events.flatMap((event) => (event.kind === 'output' ? [event.line] : []))
  assert.ok(output.includes('v1.8.5-beta.0'), 'what git describe says is shown')
  // A remote's URL may hold a password.
  assert.not.match(JSON.stringify(events), 'git@github.com:kubernetes/kubernetes.git')
})

test("GIT_DIR and the like in kspawn's environment (a git hook's) do not redirect the reads of the checkout", async () => {
  const other = await mkdtemp(join(tmpdir(), 'kspawn-pr-variant-other-'))
  const variables = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_INDEX_FILE', 'GIT_NAMESPACE']
  try {
    gitIn(other, 'init', '--quiet', '-b', 'master')
    gitIn(other, 'commit', '--quiet', '--allow-empty', '-m', 'elsewhere')
    gitIn(other, 'tag', 'v9.9.9')
    gitIn(other, 'remote', 'add', 'kinvolk', 'https://example.com/someone-else/kubernetes.git')
    Object.assign(process.env, {
      GIT_DIR: join(other, '.git'),
      GIT_WORK_TREE: other,
      GIT_COMMON_DIR: join(other, '.git'),
      GIT_OBJECT_DIRECTORY: join(other, '.git', 'objects'),
      GIT_INDEX_FILE: join(other, '.git', 'index'),
      GIT_NAMESPACE: 'elsewhere',
    })
    // Read from the other repository, the base version would be missing and its remote "kinvolk" a clash.
    const derived = await derive(pullTarget({ versionHints: [tagged] }))
    assert.is(derived.baseVersion, 'v1.8.5-beta.0')
    assert.equal(derived.remote, { name: 'kinvolk', url: 'https://github.com/kinvolk/kubernetes.git', existing: false })
  } finally {
    for (const name of variables) delete process.env[name]
    await rm(other, { recursive: true, force: true })
  }
})

test('an interrupt stops the reads: it is not taken for a checkout without the commits', async () => {
  const stopped = createRunner({ runDir: tmpdir(), dryRun: true, emit: () => {} })
  await stopped.abort('SIGINT')
  const error = await derivePrVariant({ target: pullTarget({ versionHints: [tagged] }), checkout, choices: {}, smoke: [], deployer: kubeSpawn(), run: (command) => stopped.run(command, { id: 'plan' }) }).catch(
    (caught: unknown) => caught,
  )
  assert.instance(error, Interrupted)
  assert.match((error as Interrupted).message, /^plan was not started, the run was interrupted by SIGINT: git -C /)
})

test('derived cluster names are DNS labels that do not end in a digit, and short enough for machine names', () => {
  assert.is(clusterName('pr7-Alban_K'), 'pr7-alban-k')
  assert.is(clusterName('pr7-user42'), 'pr7-user42-x')
  assert.is(clusterName('--weird..name--'), 'weird-name')
  assert.is(clusterName(''), 'pr')
  const long = clusterName(`pr1-${'a'.repeat(30)}-1234567890`)
  assert.ok(long.length <= 40, long)
  assert.match(long, /^[a-z0-9-]+[a-z]$/)
})

test('--cluster, --tag and --remote are checked before anything is asked, every problem at once', () => {
  try {
    checkChoices({ cluster: 'Pr7', tag: '-bad', remote: '.hidden' }, kubeSpawnPlugin.clusterName)
    assert.unreachable()
  } catch (error) {
    assert.instance(error, UsageError)
    assert.equal((error as UsageError).message.split('\n'), [
      '--cluster: expected a cluster name (a lowercase DNS label not ending in a digit), found "Pr7" (it contains "P")',
      '--tag: expected a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), found "-bad" (it starts with "-")',
      '--remote: expected a git remote name (letters, digits, ".", "_" and "-"), found ".hidden" (it starts with "." or "-", ends with "." or contains "..")',
    ])
  }
  checkChoices({ cluster: 'denyattach', tag: 'v1.8.5', remote: 'kinvolk' })
})

test.run()
