// fetch-source on real git: the world's fork and upstream as remotes, a
// clone of upstream as the user's checkout, each test with its own.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { StepError } from '../../engine/errors.ts'
import { fetchSource } from '../../tasks/fetch-source.ts'
import { branches, configFor, inWorld, must, playground, runOf, runTask, sh, theWorld, type Playground } from './support.ts'

const test = suite('fetch-source')
inWorld(test)

let place: Playground
test.before.each(async () => {
  place = await playground()
})
test.after.each(async () => {
  await place.remove()
})

const git = (cwd: string, args: string[]) => must(['git', ...args], { cwd }).then((result) => result.stdout.trim())

/** Everything of a checkout that kspawn must not change, read without writing anything (no index refresh). */
async function snapshot(checkout: string) {
  const quiet = { cwd: checkout, env: { GIT_OPTIONAL_LOCKS: '0' } }
  return {
    status: (await must(['git', 'status', '--porcelain=v1', '--untracked-files=all'], quiet)).stdout,
    head: (await must(['git', 'rev-parse', 'HEAD'], quiet)).stdout,
    branch: (await must(['git', 'symbolic-ref', 'HEAD'], quiet)).stdout,
    stash: (await must(['git', 'stash', 'list', '--format=%H %s'], quiet)).stdout,
    index: createHash('sha256').update(await readFile(path.join(checkout, '.git', 'index'))).digest('hex'),
    files: await hashTree(checkout),
  }
}

/** A digest of every file outside .git: path, mode and content. */
async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256')
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name)
      if (entry.name === '.git' && dir === root) continue
      if (entry.isDirectory()) await walk(file)
      else hash.update(`${path.relative(root, file)}\0${(await stat(file)).mode}\0`).update(await readFile(file))
    }
  }
  await walk(root)
  return hash.digest('hex')
}

const denyattach = () => ({ source: { remote: theWorld().KSPAWN_WORLD_FORK, branch: branches.denyattach }, tag: 'v1.8.5-beta.0-denyattach' })

test('adds the remote, checks the branch out in its own worktree, and leaves the checkout byte-identical', async () => {
  const { checkout } = place
  // A developer in the middle of something: a stash, a staged change, an unstaged one, an untracked file.
  await writeFile(path.join(checkout, 'README.md'), 'stashed work\n')
  await git(checkout, ['-c', 'user.name=dev', '-c', 'user.email=dev@example.com', 'stash', 'push', '--message', 'work in progress'])
  await writeFile(path.join(checkout, 'Makefile'), 'staged\n', { flag: 'a' })
  await git(checkout, ['add', 'Makefile'])
  await writeFile(path.join(checkout, 'README.md'), 'not staged\n', { flag: 'a' })
  await writeFile(path.join(checkout, 'notes.txt'), 'untracked\n')
  const before = await snapshot(checkout)
  assert.match(before.status, 'M  Makefile')
  assert.match(before.stash, 'work in progress')

  const config = configFor(place, { denyattach: denyattach() })
  const run = runOf(config, 'denyattach', { root: place.root })
  const outcome = await runTask(fetchSource, run)
  assert.is(outcome.error, undefined, String((outcome.error as Error)?.message))

  assert.equal(await snapshot(checkout), before)
  const fork = theWorld().KSPAWN_WORLD_FORK
  const tip = (await git(checkout, ['ls-remote', fork, `refs/heads/${branches.denyattach}`])).split('\t')[0]!
  const worktree = path.join(place.workdir, 'worktrees', 'denyattach', 'src', 'k8s.io', 'kubernetes')
  assert.equal(run.ctx.state.commit, tip)
  assert.is(run.ctx.state.worktree, worktree)
  assert.is(run.ctx.state.gopath, path.join(place.workdir, 'worktrees', 'denyattach'))
  assert.is(await git(worktree, ['rev-parse', 'HEAD']), tip)
  assert.is((await sh(['git', 'symbolic-ref', '-q', 'HEAD'], { cwd: worktree })).exitCode, 1, 'the worktree is detached')
  assert.ok(existsSync(path.join(worktree, 'plugin', 'pkg', 'admission', 'denyattach', 'admission.go')))
  assert.is(await git(checkout, ['config', 'remote.kinvolk-kubernetes.url']), fork)
  assert.is(await git(checkout, ['rev-parse', `refs/remotes/kinvolk-kubernetes/${branches.denyattach}`]), tip)

  const commands = run.commands().filter((line) => !line.startsWith('git rev-parse') && !line.startsWith('git config') && !line.startsWith('git worktree list'))
  assert.equal(commands, [
    `git -C ${checkout} remote add kinvolk-kubernetes ${fork}`,
    `git -C ${checkout} fetch --no-tags --no-write-fetch-head kinvolk-kubernetes +refs/heads/${branches.denyattach}:refs/remotes/kinvolk-kubernetes/${branches.denyattach}`,
    `git -C ${checkout} worktree add --detach ${worktree} ${tip}`,
  ])
  // The commands that changed something are in the step's log.
  const log = await readFile(path.join(run.ctx.run.dir, 'denyattach', 'fetch-source.log'), 'utf8')
  assert.match(log, `$ git -C ${checkout} worktree add --detach ${worktree} ${tip}`)
})

test('a rerun reuses the worktree, follows a moved branch, and stops rather than lose work', async () => {
  // A fork of our own, whose branch can move.
  const fork = path.join(place.root, 'fork.git')
  await must(['git', 'clone', '--quiet', '--bare', theWorld().KSPAWN_WORLD_FORK, fork])
  const push = async (message: string) => {
    const clone = path.join(place.root, `push-${Date.now()}`)
    await must(['git', 'clone', '--quiet', '--branch', branches.denyattach, fork, clone])
    await writeFile(path.join(clone, 'CHANGELOG.md'), `${message}\n`, { flag: 'a' })
    await git(clone, ['add', 'CHANGELOG.md'])
    await git(clone, ['-c', 'user.name=dev', '-c', 'user.email=dev@example.com', 'commit', '--quiet', '-m', message])
    await git(clone, ['push', '--quiet', 'origin', branches.denyattach])
    return git(clone, ['rev-parse', 'HEAD'])
  }
  const config = configFor(place, { denyattach: { source: { remote: fork, branch: branches.denyattach }, tag: 'v1' } })
  const fetch = async () => {
    const run = runOf(config, 'denyattach', { root: place.root })
    return { run, outcome: await runTask(fetchSource, run) }
  }

  const first = await fetch()
  assert.is(first.outcome.error, undefined)
  const worktree = first.run.ctx.state.worktree!

  const again = await fetch()
  assert.is(again.outcome.error, undefined)
  assert.is(again.run.ctx.state.commit, first.run.ctx.state.commit)
  assert.not.ok(again.run.commands().some((line) => line.includes('worktree add') || line.includes('checkout')))
  assert.ok(again.run.messages('info').some((message) => message.startsWith(`worktree ${worktree} already at`)))

  const moved = await push('moved on')
  const third = await fetch()
  assert.is(third.outcome.error, undefined)
  assert.is(third.run.ctx.state.commit, moved)
  assert.is(await git(worktree, ['rev-parse', 'HEAD']), moved)
  assert.ok(third.run.commands().includes(`git -C ${worktree} checkout --detach ${moved}`))

  // Local changes in the worktree: the next commit of the branch must not overwrite them.
  await writeFile(path.join(worktree, 'README.md'), 'my edit\n', { flag: 'a' })
  await push('moved again')
  const fourth = await fetch()
  assert.instance(fourth.outcome.error, StepError)
  const message = (fourth.outcome.error as Error).message
  assert.match(message, `the worktree ${worktree} has local changes`)
  assert.match(message, 'README.md')
  assert.match(message, `git -C ${worktree} stash`)
  assert.is(await git(worktree, ['rev-parse', 'HEAD']), moved)
  assert.match(await readFile(path.join(worktree, 'README.md'), 'utf8'), 'my edit')

  // A commit made in the worktree, on no branch: moving on would orphan it.
  await git(worktree, ['-c', 'user.name=dev', '-c', 'user.email=dev@example.com', 'commit', '--quiet', '-am', 'my commit'])
  const mine = await git(worktree, ['rev-parse', 'HEAD'])
  const fifth = await fetch()
  assert.instance(fifth.outcome.error, StepError)
  assert.match((fifth.outcome.error as Error).message, `the worktree ${worktree} is at ${mine.slice(0, 12)}, a commit that no branch or tag contains`)
  assert.is(await git(worktree, ['rev-parse', 'HEAD']), mine)
})

test('an existing remote of that name with another URL is an error naming both, and is left as it is', async () => {
  const upstream = theWorld().KSPAWN_WORLD_UPSTREAM
  await git(place.checkout, ['remote', 'add', 'kinvolk-kubernetes', `${upstream}-elsewhere`])
  const run = runOf(configFor(place, { denyattach: denyattach() }), 'denyattach', { root: place.root })
  const { error } = await runTask(fetchSource, run)
  assert.instance(error, StepError)
  const message = (error as Error).message
  assert.match(message, `has a remote "kinvolk-kubernetes" for ${upstream}-elsewhere, but the variant's source is ${theWorld().KSPAWN_WORLD_FORK}`)
  assert.match(message, `git -C ${place.checkout} remote rename kinvolk-kubernetes kinvolk-kubernetes-old`)
  assert.is(await git(place.checkout, ['config', 'remote.kinvolk-kubernetes.url']), `${upstream}-elsewhere`)
  assert.not.ok(run.commands().some((line) => line.includes(' fetch ') || line.includes('worktree add')))
})

test("a tag from a remote the checkout already has (by another name): no remote is added, no ref changes", async () => {
  const refsBefore = await git(place.checkout, ['for-each-ref', '--format=%(refname) %(objectname)'])
  const config = configFor(place, { upstream: { source: { remote: theWorld().KSPAWN_WORLD_UPSTREAM, tag: 'v1.8.5-beta.0' }, tag: 'v1.8.5-beta.0-upstream' } })
  const run = runOf(config, 'upstream', { root: place.root })
  assert.is((await runTask(fetchSource, run)).error, undefined)
  const tagged = await git(place.checkout, ['rev-parse', 'v1.8.5-beta.0^{commit}'])
  assert.is(run.ctx.state.commit, tagged)
  assert.is(await git(run.ctx.state.worktree!, ['rev-parse', 'HEAD']), tagged)
  assert.not.ok(run.commands().some((line) => line.includes('remote add') || line.includes(' fetch ')))
  assert.is(await git(place.checkout, ['for-each-ref', '--format=%(refname) %(objectname)']), refsBefore)
})

test('a commit is fetched by its id into no ref', async () => {
  const fork = theWorld().KSPAWN_WORLD_FORK
  const commit = (await git(place.checkout, ['ls-remote', fork, `refs/heads/${branches.denyattachfix}`])).split('\t')[0]!
  const config = configFor(place, { fix: { source: { remote: fork, commit }, tag: 'v1.8.5-beta.0-denyattachfix' } })
  const run = runOf(config, 'fix', { root: place.root })
  assert.is((await runTask(fetchSource, run)).error, undefined)
  assert.is(run.ctx.state.commit, commit)
  assert.is(await git(run.ctx.state.worktree!, ['rev-parse', 'HEAD']), commit)
  assert.ok(run.commands().includes(`git -C ${place.checkout} fetch --no-tags --no-write-fetch-head kinvolk-kubernetes ${commit}`))
  assert.is(await git(place.checkout, ['for-each-ref', 'refs/remotes/kinvolk-kubernetes']), '')
})

test('the checkout must exist and be a git work tree', async () => {
  const notGit = path.join(place.root, 'not-git')
  await mkdir(notGit)
  for (const [checkout, expected] of [
    [notGit, `your Kubernetes checkout ${notGit} is not a git work tree`],
    [path.join(place.root, 'missing'), `your Kubernetes checkout ${path.join(place.root, 'missing')} does not exist`],
  ] as const) {
    const config = configFor({ ...place, checkout }, { denyattach: denyattach() })
    const { error } = await runTask(fetchSource, runOf(config, 'denyattach', { root: place.root }))
    assert.instance(error, StepError)
    assert.match((error as Error).message, expected)
    assert.match((error as Error).message, `kubernetes.checkout in ${config.file}`)
  }
})

test('dry-run prints the commands that would change the checkout, and changes nothing', async () => {
  const before = await snapshot(place.checkout)
  const remotes = await git(place.checkout, ['remote'])
  const run = runOf(configFor(place, { denyattach: denyattach() }), 'denyattach', { root: place.root, dryRun: true })
  assert.is((await runTask(fetchSource, run)).error, undefined)
  const fork = theWorld().KSPAWN_WORLD_FORK
  const tip = (await git(place.checkout, ['ls-remote', fork, `refs/heads/${branches.denyattach}`])).split('\t')[0]!
  const worktree = path.join(place.workdir, 'worktrees', 'denyattach', 'src', 'k8s.io', 'kubernetes')
  assert.equal(run.printed(), [
    `git -C ${place.checkout} remote add kinvolk-kubernetes ${fork}`,
    `git -C ${place.checkout} fetch --no-tags --no-write-fetch-head kinvolk-kubernetes +refs/heads/${branches.denyattach}:refs/remotes/kinvolk-kubernetes/${branches.denyattach}`,
    `git -C ${place.checkout} worktree add --detach ${worktree} ${tip}`,
  ])
  assert.equal(await snapshot(place.checkout), before)
  assert.is(await git(place.checkout, ['remote']), remotes)
  assert.not.ok(existsSync(place.workdir))
  assert.not.ok(existsSync(run.ctx.run.dir))
})

test.run()
