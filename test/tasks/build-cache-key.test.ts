// The build cache's content key, on real git repositories: it follows what a
// build would see (tracked changes, staged or not, and untracked files), the
// build's command, KUBE_* variables and recipe, and nothing else (ignored
// output, other variables, where the tree is); computing it leaves the
// worktree's own index as it was.
import { mkdtemp, readdir, rm, unlink, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import * as assert from 'uvu/assert'
import { suite } from '../suite.ts'
import { createRunner } from '../../engine/runner/runner.ts'
import { stepIO } from '../../engine/run/step-io.ts'
import { buildKey, keyOf, treeId, type KeyParts } from '../../tasks/build-cache.ts'
import { must } from '../world/harness.ts'
import type { KspawnEvent } from '../../engine/run/events.ts'

const test = suite('build cache key')

let root: string
let repo: string
const events: KspawnEvent[] = []
const parts: KeyParts = { argv: ['build/run.sh', 'make'], recipe: ['recipe 1'], env: ['ARCH'] }

function step(dryRun = false) {
  const runner = createRunner({ runDir: path.join(root, 'runs'), dryRun, emit: (event) => void events.push(event) })
  return stepIO({ runner, emit: (event) => void events.push(event), dryRun, isRoot: true }, { step: 'build', variant: 'v' })
}

const git = (args: string[], cwd = repo) => must(['git', '-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd })
const key = async (dir = repo) => (await keyOf(dir, parts, step())).key

test.before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kspawn-key-'))
  repo = path.join(root, 'repo')
  await mkdir(path.join(repo, 'cmd'), { recursive: true })
  await git(['init', '--quiet', repo], root)
  await writeFile(path.join(repo, '.gitignore'), '/_output/\n')
  await writeFile(path.join(repo, 'cmd', 'main.go'), 'package main\n')
  await writeFile(path.join(repo, 'Makefile'), 'all:\n')
  await git(['add', '--all'])
  await git(['commit', '--quiet', '-m', 'tree'])
})

test.after(async () => {
  await rm(root, { recursive: true, force: true })
})

test('a clean tree: its key is the commit tree, the same from another clone in another folder', async () => {
  const tree = await treeId(repo, step())
  assert.is(tree, (await git(['rev-parse', 'HEAD^{tree}'])).stdout.trim(), 'a clean tree is the commit tree')
  const clone = path.join(root, 'elsewhere', 'kubernetes')
  await must(['git', 'clone', '--quiet', repo, clone])
  assert.is(await key(clone), await key(), 'where the tree is does not count')
})

test('a tracked change counts, staged or not; undoing it gives the first key back', async () => {
  const clean = await key()
  const file = path.join(repo, 'cmd', 'main.go')
  await writeFile(file, 'package main\n// patched\n')
  const changed = await key()
  assert.is.not(changed, clean)
  await git(['add', 'cmd/main.go'])
  assert.is(await key(), changed, 'staging the same content does not change the key')
  await git(['reset', '--quiet', 'HEAD', 'cmd/main.go'])
  await writeFile(file, 'package main\n')
  assert.is(await key(), clean)
})

test('an untracked file counts; an ignored one (_output) does not', async () => {
  const clean = await key()
  await mkdir(path.join(repo, '_output', 'bin'), { recursive: true })
  await writeFile(path.join(repo, '_output', 'bin', 'kubelet'), 'built\n')
  assert.is(await key(), clean, 'ignored build output does not count')
  await writeFile(path.join(repo, 'cmd', 'new.go'), 'package main\n')
  const untracked = await key()
  assert.is.not(untracked, clean)
  await unlink(path.join(repo, 'cmd', 'new.go'))
  assert.is(await key(), clean)
})

test('the build command, the recipe, KUBE_* variables and the ones the recipe names count; other variables do not', async () => {
  const tree = await treeId(repo, step())
  const base = buildKey(tree, parts, { HOME: '/root' })
  assert.is(buildKey(tree, parts, { HOME: '/home/other', PATH: '/bin' }), base, 'other variables do not count')
  assert.is.not(buildKey(tree, parts, { KUBE_BUILD_PLATFORMS: 'linux/arm64' }), base, 'a KUBE_* variable counts')
  assert.is.not(buildKey(tree, parts, { ARCH: 'arm64' }), base, 'a variable the recipe names counts')
  assert.is.not(buildKey(tree, { ...parts, argv: ['make', 'quick-release'] }, {}), base, 'the build command counts')
  assert.is.not(buildKey(tree, { ...parts, recipe: ['recipe 2'] }, {}), base, 'the recipe counts')
  assert.match(base, /^[0-9a-f]{64}$/)
})

test("computing the key leaves the worktree's own index and status as they were", async () => {
  await writeFile(path.join(repo, 'Makefile'), 'all:\n\ttrue\n')
  await writeFile(path.join(repo, 'untracked.txt'), 'x\n')
  await git(['add', 'Makefile'])
  const status = (await git(['status', '--porcelain'])).stdout
  const staged = (await git(['diff', '--cached', '--name-only'])).stdout
  await key()
  assert.is((await git(['status', '--porcelain'])).stdout, status)
  assert.is((await git(['diff', '--cached', '--name-only'])).stdout, staged, 'untracked.txt was not added to the index')
  const gitDir = path.join(repo, '.git')
  assert.equal((await readdir(gitDir)).filter((name) => name.includes('kspawn')), [], 'no temporary index left behind')
  await git(['reset', '--quiet', '--hard'])
  await unlink(path.join(repo, 'untracked.txt'))
})

test('in a git worktree (as kspawn builds in), the key is that of the same content in the main checkout', async () => {
  const worktree = path.join(root, 'worktrees', 'v', 'src', 'k8s.io', 'kubernetes')
  await git(['worktree', 'add', '--quiet', '--detach', worktree, 'HEAD'])
  assert.is(await key(worktree), await key())
  await writeFile(path.join(worktree, 'cmd', 'main.go'), 'package main\n// in the worktree\n')
  assert.is.not(await key(worktree), await key(), 'a change in the worktree counts there only')
})

test.run()
