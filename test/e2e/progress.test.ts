// What a run piped into a CI log prints while a long step runs: a line every
// interval naming the step, the variant, the time it has taken and its last
// output line, so that the job is seen to be alive. The world's build is made
// slow with KSPAWN_WORLD_BUILD_SLEEP; only `kspawn task build` runs.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, messages, must, world } from '../world/harness.ts'
import { kspawn, startKspawn, writeConfig } from './project.ts'

const test = suite('progress lines in plain output')

let home: string
let config: string

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-progress-'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: join(home, 'work'),
    variants: [`slow: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: 'v1.8.5-beta.0-progress', cluster: 'progress' }`],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
})

test.after(async () => {
  await rm(home, { recursive: true, force: true })
})

test('piped in CI, a build that is silent for seconds prints a progress line each interval, with its last output line', async () => {
  const fetched = await kspawn(home, ['task', 'fetch-source', '--variant', 'slow', '--config', config], { CI: 'true' })
  assert.is(fetched.exitCode, 0, fetched.stdout + fetched.stderr)
  assert.not.match(fetched.stdout, 'still running', 'fetch-source ends before the interval')

  const built = await kspawn(home, ['task', 'build', '--variant', 'slow', '--config', config, '--progress-interval', '1'], { CI: 'true', KSPAWN_WORLD_BUILD_SLEEP: '4' })
  assert.is(built.exitCode, 0, built.stdout + built.stderr)
  const lines = built.stdout.split('\n').filter((line) => line.includes('still running'))
  assert.ok(lines.length >= 1, `progress lines while the build slept:\n${built.stdout}`)
  for (const line of lines) assert.match(line, /\[\d\d:\d\d:\d\d\] build \(slow\): still running after \d+\.\ds; (last output: |no output yet)/)
  // The build says which targets it builds, then sleeps: the lines during its silence repeat the last line it printed, from its log.
  const run = (await readdir(join(home, 'work', 'runs'))).filter((name) => name.endsWith('-task-build'))
  assert.is(run.length, 1)
  const logged = new Set((await readFile(join(home, 'work', 'runs', run[0]!, 'slow', 'build.log'), 'utf8')).split('\n'))
  const said = lines.flatMap((line) => {
    const last = line.split('; last output: ')[1]
    return last === undefined || last.startsWith('$ ') ? [] : [last]
  })
  assert.ok(said.length >= 1 && said.every((line) => logged.has(line)), `progress lines show lines of the build's output:\n${lines.join('\n')}`)
  assert.ok(
    said.some((line, i) => i > 0 && said[i - 1] === line),
    `while the build is silent, its last line is shown again:\n${lines.join('\n')}`,
  )
  // Every line comes after the step started and before it ended.
  const stdout = built.stdout
  const started = stdout.indexOf('Build')
  const ended = stdout.search(/✔ .*Build.*\(slow\)/)
  assert.ok(started >= 0 && ended > 0)
  for (const line of lines) {
    const at = stdout.indexOf(line)
    assert.ok(at > started && at < ended, `${line}\nis printed while the build runs`)
  }
})

test("kspawn logs --follow, from a second terminal, prints the build's lines as the build prints them and ends with it", async () => {
  // The worktree is fetched by the test above; its build stamp goes, so that the build runs.
  await rm(join(home, 'work', 'worktrees', 'slow', 'src', 'k8s.io', 'kubernetes', '_output', 'kspawn-build.json'), { force: true })
  const build = startKspawn(home, ['task', 'build', '--variant', 'slow', '--config', config], { KSPAWN_WORLD_BUILD_SLEEP: '6' })
  let buildEnded = false
  void build.exited.then(() => (buildEnded = true))
  await build.prints('$ build/run.sh make')

  const logs = startKspawn(home, ['logs', 'slow', 'build', '--follow', '--config', config])
  await logs.prints('Building go targets')
  assert.not.ok(buildEnded, `the build's lines come while it still runs:\n${logs.output()}`)
  assert.is(await build.exited, 0, build.output())
  assert.is(await logs.exited, 0, logs.output())

  const runs = (await readdir(join(home, 'work', 'runs'))).filter((name) => name.endsWith('-task-build')).sort()
  const log = await readFile(join(home, 'work', 'runs', runs.at(-1)!, 'slow', 'build.log'), 'utf8')
  assert.match(log, 'Building go targets')
  assert.ok(logs.output().includes(log), `kspawn logs --follow printed the whole build log:\n${logs.output()}\n---\n${log}`)
  assert.match(logs.output(), `build (slow), run ${runs.at(-1)}`)
})

test.run()
