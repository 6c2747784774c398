// The runner behind `npm test` (test/run.ts), run for real on suites written
// for the occasion: a suite whose hook throws, or whose tests never run, fails
// the run and is named with the hook's error, where plain uvu prints a green
// "(0 / N)" and exits 0.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { suite } from './suite.ts'

const test = suite('npm test runner')
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const suiteModule = path.join(repo, 'test', 'suite.ts')

const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '')

async function sh(argv: string[], env: Record<string, string> = {}) {
  const out = await $({ cwd: repo, quiet: true, nothrow: true, env: { ...process.env, ...env } })`${argv}`
  return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr }
}

/** A folder for test files of the occasion, where they resolve the project's packages and no test run looks. */
async function scratch(): Promise<string> {
  const cache = path.join(repo, 'node_modules', '.cache')
  await mkdir(cache, { recursive: true })
  return mkdtemp(path.join(cache, 'kspawn-runner-'))
}

/** Writes the test files (paths under a folder of their own) and runs the runner (or `npm test`) on it. */
async function runOn(files: Record<string, string>, command: 'runner' | 'npm test' = 'runner', env: Record<string, string> = {}) {
  const dir = await scratch()
  try {
    for (const [name, body] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true })
      await writeFile(path.join(dir, name), body)
    }
    const argv = command === 'runner' ? ['node', '--import', 'tsx', path.join(repo, 'test', 'run.ts'), dir] : ['npm', 'test', '--', dir]
    const result = await sh(argv, env)
    return { exitCode: result.exitCode, out: plain(result.stdout + result.stderr), dir }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const passing = `
import * as assert from 'uvu/assert'
import { test } from ${JSON.stringify(suiteModule)}
test('one and one', () => assert.is(1 + 1, 2))
test('two and two', () => assert.is(2 + 2, 4))
test.run()
`

const throwingBefore = `
import * as assert from 'uvu/assert'
import { suite } from ${JSON.stringify(suiteModule)}
const test = suite('cluster tests')
test.before(async () => { throw new Error('The test world is not up. Run: npm run world:up') })
test('a', () => assert.ok(true))
test('b', () => assert.ok(true))
test('c', () => assert.ok(true))
test.run()
`

test('a suite whose before hook throws fails the run, named with the error, and is counted as failed', async () => {
  const { exitCode, out } = await runOn({ 'a.test.ts': throwingBefore, 'b.test.ts': passing })
  assert.is(exitCode, 1, out)
  assert.match(out, /LOST suite "cluster tests" in .*a\.test\.ts: 0 of 3 tests passed, the others never ran: its before hook threw: Error: The test world is not up\. Run: npm run world:up/)
  assert.match(out, /^2 passed, 3 failed, 0 skipped$/m)
  assert.match(out, /Failed in: .*a\.test\.ts\n/)
  assert.not.match(out, /Failed in: .*b\.test\.ts/)
})

test('plain uvu on the same suite says (0 / 3) and exits 0: the reason for the runner', async () => {
  const dir = await scratch()
  try {
    await writeFile(path.join(dir, 'a.test.ts'), throwingBefore)
    const result = await sh(['node', '--import', 'tsx', path.join(repo, 'node_modules', 'uvu', 'bin.js'), dir, '\\.test\\.ts$'])
    assert.is(result.exitCode, 0)
    assert.match(plain(result.stdout), /\(0 \/ 3\)/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a throwing after hook, an after.each after a failure, and a suite never run() each fail the run', async () => {
  const { exitCode, out } = await runOn({
    'after.test.ts': `
import { suite } from ${JSON.stringify(suiteModule)}
const test = suite('leaves things behind')
test.after(() => { throw new Error('could not remove the cluster') })
test('fine', () => {})
test.run()
`,
    'each.test.ts': `
import * as assert from 'uvu/assert'
import { suite } from ${JSON.stringify(suiteModule)}
const test = suite('cleanup each')
test.after.each(() => { throw new Error('cleanup failed') })
test('first', () => assert.ok(false, 'first failed'))
test('second', () => {})
test('third', () => {})
test.run()
`,
    'norun.test.ts': `
import { suite } from ${JSON.stringify(suiteModule)}
const test = suite('forgotten')
test('never', () => {})
`,
  })
  assert.is(exitCode, 1, out)
  assert.match(out, /after\.test\.ts: the suite stopped: its after hook threw: Error: could not remove the cluster/)
  assert.match(out, /LOST suite "cleanup each" in .*each\.test\.ts: 0 of 3 tests passed, the others never ran: its after\.each hook \(for "first"\) threw: Error: cleanup failed/)
  assert.match(out, /LOST suite "forgotten" in .*norun\.test\.ts: 0 of 1 tests passed, the others never ran: its tests were declared but run\(\) was never called/)
  assert.match(out, /^0 passed, 4 failed, 0 skipped$/m)
})

test('a file that imports uvu directly is refused: its hooks would not be recorded', async () => {
  const { exitCode, out } = await runOn({ 'raw.test.ts': `import { test } from 'uvu'\ntest('x', () => {})\ntest.run()\n`, 'ok.test.ts': passing })
  assert.is(exitCode, 1, out)
  assert.match(out, /raw\.test\.ts imports uvu directly: import \{ suite \} or \{ test \} from test\/suite\.ts/)
})

test('suites that pass: exit 0 and the closing line CI reads', async () => {
  const { exitCode, out } = await runOn({ 'b.test.ts': passing, 'c.test.ts': passing.replace('one and one', 'three') })
  assert.is(exitCode, 0, out)
  assert.match(out, /^4 passed, 0 failed, 0 skipped$/m)
})

test('a failing test fails the run with its assertion', async () => {
  const { exitCode, out } = await runOn({ 'f.test.ts': passing.replace('assert.is(2 + 2, 4)', 'assert.is(2 + 2, 5)') })
  assert.is(exitCode, 1, out)
  assert.match(out, /FAIL.*"two and two"/)
  assert.match(out, /^1 passed, 1 failed, 0 skipped$/m)
})

test('npm test, the README command CI runs, exits non-zero on a throwing hook', async () => {
  const { exitCode, out } = await runOn({ 'a.test.ts': throwingBefore }, 'npm test')
  assert.is.not(exitCode, 0, out)
  assert.match(out, /LOST suite "cluster tests"/)
  assert.match(out, /^0 passed, 3 failed, 0 skipped$/m)
})

test('suites that need the test world get it: brought up when it is down, and taken down again after', async () => {
  // A world of its own (KSPAWN_WORLD_STATE), so that the one other suites use is not touched.
  const state = path.join(await scratch(), 'world-state')
  const probe = `
import * as assert from 'uvu/assert'
import { test } from ${JSON.stringify(suiteModule)}
import { sh, world } from ${JSON.stringify(path.join(repo, 'test', 'world', 'harness.ts'))}
test('the world engine answers', async () => {
  assert.ok(world().KSPAWN_WORLD_STATE)
  const version = await sh(['docker', 'version', '--format', '{{.Server.Version}}'])
  assert.is(version.exitCode, 0, version.output)
})
test.run()
`
  try {
    const { exitCode, out } = await runOn({ 'test/world/probe.test.ts': probe }, 'runner', { KSPAWN_WORLD_STATE: state })
    assert.is(exitCode, 0, out)
    assert.match(out, 'npm test: the test world is not up: bringing it up (npm run world:up), and down again when the tests end')
    assert.match(out, `world: ready. Use it from a shell with: source ${state}/env.sh`)
    assert.match(out, /^1 passed, 0 failed, 0 skipped$/m)
    assert.match(out, /npm test: taking down the test world it brought up \(npm run world:down\)\nworld: Docker engine \(pid \d+\): stopped/)
    assert.not.ok(existsSync(state), 'the world it brought up is gone')
  } finally {
    await $({ quiet: true, nothrow: true, cwd: repo, env: { ...process.env, KSPAWN_WORLD_STATE: state } })`npm run --silent world:down`
    await rm(path.dirname(state), { recursive: true, force: true })
  }
  // The world the other suites use is up: it is used and left up.
  const { exitCode, out } = await runOn({ 'test/world/probe.test.ts': probe })
  assert.is(exitCode, 0, out)
  assert.match(out, /npm test: using the test world that is up \(.*\); it stays up/)
  assert.not.match(out, /world:down/)
})

test.run()
