// The lines kspawn answers without yargs (cli/shortcut.ts): a help at 100
// columns and `kspawn list` with at most a --config and a --json. Each gives what yargs
// gives for the same line, and every other line goes to yargs.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { defaultDeps, type CliDeps } from '../../cli/deps.ts'
import { main, parseAndRun } from '../../cli/main.ts'
import type { Registry } from '../../cli/registry.ts'
import { HELP_TOPICS, shortcutFor } from '../../cli/shortcut.ts'
import { capture, fakeTask, writeConfigFile } from '../engine/workflow-helpers.ts'
import { helpTextFile, helpTextSource } from './help-text.ts'

const fetch = fakeTask('fetch-source')
const registry: Registry = { workflows: [{ id: 'dev-loop', description: 'the whole loop', tasks: [fetch] }], tasks: [fetch] }

let dir = ''
test.before.each(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kspawn-shortcut-'))
})
test.after.each(async () => {
  await rm(dir, { recursive: true, force: true })
})

function deps(columns?: number): CliDeps & { out: () => { stdout: string; stderr: string } } {
  const stdout = Object.assign(capture(), { columns })
  const stderr = capture()
  return {
    ...defaultDeps(),
    stdout,
    stderr,
    env: { PATH: process.env.PATH },
    cwd: dir,
    loadRegistry: async () => registry,
    out: () => ({ stdout: stdout.text(), stderr: stderr.text() }),
  }
}

/** The line through main(), shortcut and all, and through yargs alone. */
async function bothWays(argv: string[], columns?: number) {
  const viaMain = deps(columns)
  const viaYargs = deps(columns)
  return {
    main: { exitCode: await main(argv, viaMain), ...viaMain.out() },
    yargs: { exitCode: await parseAndRun(argv, viaYargs), ...viaYargs.out() },
  }
}

test('cli/help-text.ts holds the helps that yargs makes of cli/main.ts now (npm run help-text writes it)', async () => {
  assert.is(await readFile(helpTextFile, 'utf8'), await helpTextSource(), 'cli/help-text.ts is out of date: run npm run help-text')
})

test('each help, --help or -h, prints what yargs prints, at 100 columns and on a narrower terminal', async () => {
  for (const topic of HELP_TOPICS) {
    for (const flag of ['--help', '-h']) {
      for (const columns of [undefined, 120, 100, 80]) {
        const argv = topic === '' ? [flag] : [topic, flag]
        const { main, yargs } = await bothWays(argv, columns)
        assert.equal(main, yargs, `kspawn ${argv.join(' ')} at ${columns ?? 'no'} columns`)
        assert.is(main.exitCode, 0)
      }
    }
  }
})

test('only a help at 100 columns, list with at most a --config and a --json, and a Tab\'s completions are shortcuts', () => {
  const lines: [argv: string[], shortcut: ReturnType<typeof shortcutFor>, columns?: number][] = [
    [['--help'], { help: '' }],
    [['-h'], { help: '' }],
    [['run', '--help'], { help: 'run' }],
    [['doctor', '-h'], { help: 'doctor' }],
    [['--help'], { help: '' }, 140],
    [['--help'], undefined, 99],
    [['run', '--help'], undefined, 80],
    [['--help', 'run'], undefined],
    [['up', '--help'], undefined],
    [['run', 'dev-loop', '--help'], undefined],
    [['--help', '--help'], undefined],
    [['list'], { list: {} }],
    [['list', '--config', 'my.config.ts'], { list: { config: 'my.config.ts' } }],
    [['list', '--config=my.config.ts'], { list: { config: 'my.config.ts' } }],
    [['--config', 'list', 'list'], { list: { config: 'list' } }],
    [['list', '--config', '../configs/a b.ts'], { list: { config: '../configs/a b.ts' } }],
    [['list', '--json'], { list: { json: true } }],
    [['list', '--json', '--config', 'my.config.ts'], { list: { config: 'my.config.ts', json: true } }],
    [['--config', 'my.config.ts', 'list', '--json'], { list: { config: 'my.config.ts', json: true } }],
    [['--json', 'list'], undefined],
    [['list', '--json', '--json'], undefined],
    [['list', '--json=true'], undefined],
    [['list', '--no-json'], undefined],
    [['--config', 'list'], undefined],
    [['list', 'list'], undefined],
    [['list', '--config'], undefined],
    [['list', '--config', ''], undefined],
    [['list', '--config='], undefined],
    [['list', '--config', '--help'], undefined],
    [['list', '--config', 'a.ts', '--config', 'b.ts'], undefined],
    [['list', '--help'], { help: 'list' }],
    [['list', '-v'], undefined],
    [['list', 'extra'], undefined],
    [['list', '--', 'x'], undefined],
    [['clusters'], undefined],
    [['--get-yargs-completions', 'kspawn', 'run', ''], { complete: ['run', ''] }],
    [['--get-yargs-completions', 'kspawn', ''], { complete: [''] }],
    [['run', '--get-yargs-completions'], undefined],
    [[], undefined],
  ]
  for (const [argv, expected, columns] of lines) assert.equal(shortcutFor(argv, columns), expected, `kspawn ${argv.join(' ')} at ${columns ?? 'no'} columns`)
})

test('list as a shortcut prints, fails and exits as it does through yargs', async () => {
  // No config anywhere: a usage error.
  let { main, yargs } = await bothWays(['list'])
  assert.equal(main, yargs)
  assert.is(main.exitCode, 2)
  await writeConfigFile(dir)
  await writeFile(path.join(dir, 'bad.config.mjs'), 'export default { kubernetes: { checkout: 42 } }\n')
  await writeFile(path.join(dir, 'throws.config.mjs'), 'throw new Error("no")\n')
  const lines = [
    ['list'],
    ['list', '--config', 'kspawn.config.mjs'],
    ['list', `--config=${path.join(dir, 'kspawn.config.mjs')}`],
    ['--config', 'kspawn.config.mjs', 'list'],
    ['list', '--config', 'bad.config.mjs'],
    ['list', '--config', 'throws.config.mjs'],
    ['list', '--config', 'missing.config.ts'],
    ['list', '--config', 'kspawn.config.txt'],
    ['list', '--json'],
    ['list', '--json', '--config', 'kspawn.config.mjs'],
    ['list', '--json', '--config', 'bad.config.mjs'],
  ]
  for (const argv of lines) {
    ;({ main, yargs } = await bothWays(argv))
    assert.equal(main, yargs, `kspawn ${argv.join(' ')}`)
  }
  ;({ main } = await bothWays(['list']))
  assert.is(main.exitCode, 0)
  assert.ok(main.stdout.includes('Variants in kspawn.config.mjs:'), main.stdout)
  ;({ main } = await bothWays(['list', '--config', 'bad.config.mjs']))
  assert.is(main.exitCode, 2)
  assert.match(main.stderr, /^bad\.config\.mjs: /)
})

test('a registry that fails to load is reported as through yargs, exit 1', async () => {
  await writeConfigFile(dir)
  const failing = { loadRegistry: async () => Promise.reject(new Error('workflows/index.js must export the arrays workflows and tasks')) }
  const viaMain = deps()
  const viaYargs = deps()
  const exitCodes = [await main(['list'], { ...viaMain, ...failing }), await parseAndRun(['list'], { ...viaYargs, ...failing })]
  assert.equal(exitCodes, [1, 1])
  assert.equal(viaMain.out(), viaYargs.out())
  assert.is(viaMain.out().stderr, 'kspawn: workflows/index.js must export the arrays workflows and tasks\n')
})

test.run()
