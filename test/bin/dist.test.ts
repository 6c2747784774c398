// The built command, as npm installs it: dist/bin/kspawn.js run by node
// without tsx. The suite's first test builds dist/ with `npm run build`.
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { $ } from 'zx'
import { groundwork, test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { findExecutable } from '../../cli/doctor.ts'
import { writeConfigFile } from '../engine/workflow-helpers.ts'

const repo = path.resolve(import.meta.dirname, '../..')
const bin = path.join(repo, 'dist', 'bin', 'kspawn.js')
const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string }

let dir = ''
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kspawn-dist-'))
})
test.after(async () => {
  await rm(dir, { recursive: true, force: true })
})

groundwork(test, 'npm run build makes dist/', async () => {
  const built = await $({ cwd: repo, quiet: true, nothrow: true })`npm run --silent build`
  assert.is(built.exitCode, 0, `npm run build failed:\n${built.stdout}${built.stderr}`)
})

function kspawn(args: string[], env: NodeJS.ProcessEnv = {}) {
  // uvu sets FORCE_COLOR for its own output; kspawn's should be plain here.
  const { FORCE_COLOR: _, ...inherited } = process.env
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...inherited, NO_COLOR: '1', ...env } })
  return { exitCode: result.status, stdout: result.stdout, stderr: result.stderr }
}

test('--version prints the version and exits 0', () => {
  assert.equal(kspawn(['--version']), { exitCode: 0, stdout: `${version}\n`, stderr: '' })
})

test('the built file runs by its shebang, as npm links it', () => {
  const result = spawnSync(bin, ['--help'], { cwd: dir, encoding: 'utf8' })
  assert.is(result.status, 0)
  assert.match(result.stdout, /kspawn run <workflow>/)
  assert.match(result.stdout, /kspawn doctor/)
})

/**
 * What a command line loads: kspawn's own modules (relative to dist/), and
 * the dependencies (by package) that it imports as ES modules and that it
 * requires as CommonJS.
 */
async function modulesLoaded(args: string[]): Promise<{ own: string[]; imported: string[]; required: string[] }> {
  const record = path.join(dir, `loaded-${args.join('-')}.txt`)
  const { FORCE_COLOR: _, ...inherited } = process.env
  const result = spawnSync(process.execPath, ['--import', path.join(import.meta.dirname, 'record-loads.mjs'), bin, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...inherited, KSPAWN_RECORD_LOADS: record },
  })
  assert.is(result.status, 0, `kspawn ${args.join(' ')}: ${result.stderr}`)
  const loads = (await readFile(record, 'utf8')).split('\n').filter(Boolean).map((line) => {
    const [how = '', what = ''] = line.split(' ', 2)
    return { how, file: what.startsWith('file:') ? fileURLToPath(what) : what }
  })
  const packages = (how: string) => [...new Set(loads.filter((load) => load.how === how).map((load) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(load.file)?.[1]).filter((name) => name !== undefined))].sort()
  const dist = path.join(repo, 'dist') + path.sep
  const own = loads.filter((load) => load.file.startsWith(dist)).map((load) => path.relative(dist, load.file))
  return { own, imported: packages('import'), required: packages('require') }
}

test('--version, a help and list load what they need: no yargs, and no dependency at all for --version and a help', async () => {
  // Timings live in bench/startup.ts; this guards what makes them, whatever the machine's speed.
  assert.equal(await modulesLoaded(['--version']), { own: ['bin/kspawn.js', 'cli/version.js'], imported: [], required: [] })
  for (const help of [['--help'], ['run', '--help'], ['list', '-h']]) {
    const { own, imported, required } = await modulesLoaded(help)
    assert.equal([...imported, ...required], [], `kspawn ${help.join(' ')} loads no dependency (not yargs: cli/help-text.ts has the text)`)
    assert.ok(own.includes('cli/help-text.js'))
    assert.not.ok(own.some((file) => file.startsWith('engine/config/')), `kspawn ${help.join(' ')} loads no config: ${own.join(', ')}`)
  }
  await writeConfigFile(dir)
  // jiti runs the config and zod checks it, both required: their CommonJS builds load in a fraction of the time.
  const list = await modulesLoaded(['list'])
  assert.equal(list, { ...list, imported: [], required: ['jiti', 'zod'] }, 'kspawn list imports no dependency (not yargs, listr2, zx or simple-git) and requires jiti and zod')
  assert.ok(list.own.includes('engine/config/config-schema.js'))
  const json = await modulesLoaded(['list', '--json'])
  assert.equal(json, { ...json, imported: [], required: ['jiti', 'zod'] }, 'kspawn list --json loads what list loads')
  // A Tab: the commands and options come from the generated helps, with no dependency and no config.
  const tab = await modulesLoaded(['--get-yargs-completions', 'kspawn', 'run', '--'])
  assert.equal([...tab.imported, ...tab.required], [], 'completing an option loads no dependency (not yargs)')
  assert.not.ok(tab.own.some((file) => file.startsWith('engine/config/')), `completing an option loads no config: ${tab.own.join(', ')}`)
  const variants = await modulesLoaded(['--get-yargs-completions', 'kspawn', 'run', 'dev-loop', '--variant', ''])
  assert.equal(variants, { ...variants, imported: [], required: ['jiti', 'zod'] }, 'completing a variant loads the config, and not yargs')
  await rm(path.join(dir, 'kspawn.config.mjs'))
})

test('an unknown command exits 2', () => {
  const { exitCode, stderr } = kspawn(['up'])
  assert.is(exitCode, 2)
  assert.is(stderr, 'unknown command "up": the commands are run, task, pr, logs, list, clusters, down, doctor, completion\nSee: kspawn --help\n')
})

test('a bad config exits 2 with the config error', async () => {
  await writeFile(path.join(dir, 'bad.config.mjs'), 'export default {\n  kubernetes: { checkout: 42 },\n')
  const { exitCode, stderr } = kspawn(['doctor', '--config', 'bad.config.mjs'])
  assert.is(exitCode, 2)
  assert.match(stderr, /^bad\.config\.mjs:\d+:\d+: syntax error: /)
})

test('doctor with a PATH that lacks kube-spawn reports it missing and exits 1', async () => {
  await writeConfigFile(dir)
  const tools = path.join(dir, 'bin')
  await mkdir(tools)
  // bash too: the runner's commands go through it.
  for (const tool of ['git', 'make', 'docker', 'kubectl', 'bash']) {
    const real = await findExecutable(tool, process.env.PATH ?? '')
    if (real) await symlink(real, path.join(tools, tool))
  }
  const { exitCode, stdout } = kspawn(['doctor'], { PATH: tools })
  assert.is(exitCode, 1)
  assert.match(stdout, /  ✖ kube-spawn +missing — to create and start a cluster for each variant\n +download it from https:\/\/github\.com\/kinvolk\/kube-spawn\/releases/)
  assert.match(stdout, /  ✔ kubectl +\S+\/kubectl — /)
  assert.not.match(stdout, /make/, 'the config builds nothing, so make is not needed')
})

test.run()
