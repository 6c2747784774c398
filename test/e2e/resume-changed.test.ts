// `kspawn run dev-loop --resume` after the config changed a variant between
// the failed run and the resume, in the test world. What the earlier run
// made was made from the old definition, so the changed variant starts over,
// and kspawn says so, naming the variant and what changed; the variant that
// did not change continues where it stopped. Both runs fail at the build on
// purpose (KSPAWN_WORLD_BUILD_FAIL_AT), which is as far as this needs to go.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { branches, messages, must, world } from '../world/harness.ts'
import { kspawn, runFolders, writeConfig } from './project.ts'

const test = suite('resuming a run after the config changed')

let home: string
let checkout: string
const workdir = () => join(home, 'work')
const fork = () => world().KSPAWN_WORLD_FORK
const failingBuild = { KSPAWN_WORLD_BUILD_FAIL_AT: 'kubelet' }

function variants(betaBranch: string): string[] {
  return [
    `alpha: { source: { remote: ${JSON.stringify(fork())}, branch: ${JSON.stringify(branches.denyattach)} }, tag: 'v1.8.5-beta.0-rc-alpha', cluster: 'rcalpha' }`,
    `beta: { source: { remote: ${JSON.stringify(fork())}, branch: ${JSON.stringify(betaBranch)} }, tag: 'v1.8.5-beta.0-rc-beta', cluster: 'rcbeta' }`,
  ]
}

async function stateOf(run: string): Promise<RunRecord> {
  return JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-resume-'))
  checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
})

test.after(async () => {
  await rm(home, { recursive: true, force: true })
})

test("--resume after a variant's branch changed: that variant starts over, saying what changed, and the other one continues", async () => {
  const file = join(home, 'kspawn.config.ts')
  const smoke = `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`
  await writeConfig(file, { checkout, workdir: workdir(), variants: variants(branches.denyattach), smoke })
  const first = await kspawn(home, ['run', 'dev-loop'], failingBuild)
  assert.is(first.exitCode, 1, first.output.slice(-4000))
  const [firstRun] = await runFolders(workdir())
  const firstId = basename(firstRun ?? '')

  // The developer points beta at the fixed branch, and continues.
  const config = await readFile(file, 'utf8')
  await writeFile(file, config.replace(variants(branches.denyattach)[1]!, variants(branches.denyattachfix)[1]!))
  assert.match(await readFile(file, 'utf8'), branches.denyattachfix)
  const resumed = await kspawn(home, ['run', 'dev-loop', '--resume'], failingBuild)

  assert.is(resumed.exitCode, 1, resumed.output.slice(-4000))
  assert.match(
    resumed.stderr,
    `warning: variant beta changed since run ${firstId} (source.branch was "${branches.denyattach}", now "${branches.denyattachfix}"): --resume starts it over\n`,
  )
  assert.not.match(resumed.output, 'variant alpha changed')
  assert.match(resumed.stdout, new RegExp(`\\(alpha\\) \\[SKIPPED: done in run ${firstId}\\]\\n`))
  assert.not.match(resumed.stdout, /\(beta\) \[SKIPPED: done in run/)
  assert.match(resumed.stdout, `(branch ${branches.denyattachfix} of ${fork()})`)

  const secondRun = (await runFolders(workdir())).at(-1) ?? ''
  const state = await stateOf(secondRun)
  const [alpha, beta] = state.variants
  assert.equal(alpha?.tasks[0], { id: 'fetch-source', status: 'done', message: `done in run ${firstId}`, doneIn: firstId })
  assert.equal(beta?.tasks[0]?.status, 'done')
  assert.is(beta?.tasks[0]?.doneIn, undefined, "beta's fetch-source ran again")
  const fixed = (await must(['git', 'ls-remote', fork(), `refs/heads/${branches.denyattachfix}`])).stdout.split('\t')[0]
  assert.is(beta?.state.commit, fixed, 'beta was fetched at the new branch')
  const worktree = join(workdir(), 'worktrees', 'beta', 'src', 'k8s.io', 'kubernetes')
  assert.is((await must(['git', 'rev-parse', 'HEAD'], { cwd: worktree })).stdout.trim(), fixed)
  assert.equal([alpha?.stoppedAt, beta?.stoppedAt], ['build', 'build'])
})

test.run()
