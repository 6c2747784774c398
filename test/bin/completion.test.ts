// `kspawn completion`, and what a Tab completes: the script it prints is
// sourced into a real bash, whose completion function is called as bash
// calls it on Tab (COMP_WORDS, COMP_CWORD), and runs the real kspawn on PATH;
// the offers are read back from COMPREPLY. Each position is covered: the
// command, an option, a workflow after run, a task after task, a variant
// after --variant, a cluster after down. The options offered are checked
// against those yargs takes for each command.
import { spawnSync } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { main } from '../../cli/main.ts'
import { COMMANDS } from '../../cli/usage.ts'
import { writeClusterRecord } from '../../engine/cluster-records.ts'
import { capture, writeConfigFile } from '../engine/workflow-helpers.ts'

const repo = path.resolve(import.meta.dirname, '../..')
let dir = ''
let bin = ''
let script = ''

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kspawn-completion-'))
  // kspawn on PATH, from the sources: what the script calls on every Tab.
  bin = path.join(dir, 'bin')
  await mkdir(bin)
  await writeFile(path.join(bin, 'kspawn'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(import.meta.resolve('tsx'))} ${JSON.stringify(path.join(repo, 'bin', 'kspawn.ts'))} "$@"\n`)
  await chmod(path.join(bin, 'kspawn'), 0o755)
  await writeConfigFile(dir)
  for (const cluster of ['denyattach', 'denyattachfix']) {
    await writeClusterRecord(path.join(dir, '.kspawn'), {
      cluster,
      variant: cluster,
      tag: 'v1',
      image: 'i:v1',
      deployer: { name: 'kube-spawn', nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' },
      kubeconfig: `/var/lib/kube-spawn/${cluster}/kubeconfig`,
      created: '2026-12-02T06:00:00.000Z',
      run: 'r',
      config: path.join(dir, 'kspawn.config.mjs'),
    })
  }
  script = path.join(dir, 'kspawn-completion.bash')
  const printed = spawnSync(path.join(bin, 'kspawn'), ['completion', '--shell', 'bash'], { cwd: dir, encoding: 'utf8' })
  assert.is(printed.status, 0, printed.stderr)
  await writeFile(script, printed.stdout)
})

test.after(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** What bash offers on Tab after `line` (the cursor at its end; a line ending in a space completes an empty word). */
function tab(line: string): string[] {
  const words = line.split(' ')
  const program = [
    `source ${JSON.stringify(script)}`,
    `COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    `COMP_LINE=${JSON.stringify(line)}`,
    `COMP_POINT=${line.length}`,
    '_kspawn_completions',
    `printf '%s\\n' "\${COMPREPLY[@]}"`,
  ].join('\n')
  const { FORCE_COLOR: _, ...env } = process.env
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', program], { cwd: dir, encoding: 'utf8', env: { ...env, PATH: `${bin}:${process.env.PATH}` } })
  assert.is(result.status, 0, result.stderr)
  assert.is(result.stderr, '', `nothing on the terminal for ${line}`)
  return result.stdout.split('\n').filter(Boolean)
}

test('kspawn completion prints a bash script by default and a zsh one for zsh, both calling kspawn --get-yargs-completions', async () => {
  for (const [args, env, shell] of [
    [['completion'], { SHELL: '/bin/bash' }, 'bash'],
    [['completion'], { SHELL: '/usr/bin/zsh' }, 'zsh'],
    [['completion', '--shell', 'zsh'], { SHELL: '/bin/bash' }, 'zsh'],
    [['completion', '--shell', 'bash'], { SHELL: '/bin/zsh' }, 'bash'],
  ] as const) {
    const stdout = capture()
    const stderr = capture()
    assert.is(await main([...args], { stdout, stderr, env, cwd: dir }), 0, stderr.text())
    assert.match(stdout.text(), 'kspawn --get-yargs-completions')
    assert.match(stdout.text(), shell === 'bash' ? 'complete -o bashdefault -o default -F _kspawn_completions kspawn\n' : 'compdef _kspawn_completions kspawn\n')
  }
  const syntax = spawnSync('bash', ['-n', script], { encoding: 'utf8' })
  assert.is(syntax.status, 0, syntax.stderr)
})

test('Tab in bash completes the command, an option, a workflow, a task, a variant and a cluster', () => {
  // One Tab per position through the real CLI (each starts kspawn); the finer cases are asked in-process below.
  assert.equal(tab('kspawn '), [...COMMANDS])
  assert.equal(tab('kspawn run dev-loop --re'), ['--recreate', '--resume', '--renderer'])
  assert.equal(tab('kspawn run '), ['dev-loop', 'share'])
  assert.equal(tab('kspawn task '), ['fetch-source', 'cluster-up', 'smoke-test', 'share-image', 'build', 'image', 'use-image'], "kspawn's tasks and the deployer's steps")
  assert.equal(tab('kspawn run dev-loop --variant '), ['denyattach', 'denyattachfix'])
  assert.equal(tab('kspawn down '), ['denyattach', 'denyattachfix'])
})

/** What kspawn offers for the last of `words`, asked in-process as the script asks it. */
async function offers(...words: string[]): Promise<string[]> {
  const stdout = capture()
  const stderr = capture()
  assert.is(await main(['--get-yargs-completions', 'kspawn', ...words], { stdout, stderr, cwd: dir }), 0)
  assert.is(stderr.text(), '')
  return stdout.lines().filter(Boolean)
}

test('the word under the cursor narrows the offers; options already given, clusters already named and option values are taken into account', async () => {
  assert.equal(await offers('d'), ['down', 'doctor'])
  assert.equal(await offers('run', '--dr'), ['--dry-run'])
  assert.equal(await offers('run', '--no'), ['--no-cache'], 'a switch that is on by default is offered as its negation')
  assert.equal(await offers('run', 'dev-loop', '--dry-run', '--d'), [], 'an option given once is not offered again')
  assert.equal(await offers('run', 'dev-loop', '--variant', 'denyattach', '--var'), ['--variant'], 'one that repeats is')
  assert.equal(await offers('task', 'sm'), ['smoke-test'])
  assert.equal(await offers('task', 'build', '--variant', 'denyattachf'), ['denyattachfix'])
  assert.equal(await offers('pr', 'x', '--smoke', ''), ['denyattach', 'denyattachfix'])
  assert.equal(await offers('down', 'denyattach', ''), ['denyattachfix'], 'a cluster already named is not offered again')
  assert.equal(await offers('run', 'dev-loop', '--renderer', 's'), ['simple', 'silent'])
  assert.equal(await offers('--config', 'kspawn.config.mjs', 'run', ''), ['dev-loop', 'share'])
  assert.equal(await offers('-'), ['--config', '--help', '--version'])
  assert.equal(await offers('run', '--config', ''), [], 'a file name: the shell completes it')
  assert.equal(await offers('run', 'dev-loop', ''), [], 'run takes one workflow')
  assert.equal(await offers('nosuch', ''), [])
  assert.equal(await offers('completion', '--shell', ''), ['bash', 'zsh'])
})

test('the options offered for each command are those yargs takes, with --help', async () => {
  for (const command of COMMANDS) {
    const complete = capture()
    await main(['--get-yargs-completions', 'kspawn', command, '--'], { stdout: complete, stderr: capture(), cwd: dir })
    const stderr = capture()
    assert.is(await main([command, '--zzzz'], { stdout: capture(), stderr, cwd: dir }), 2)
    const takes = /kspawn \S+ takes (.*)$/m.exec(stderr.text())?.[1]?.split(', ')
    assert.ok(takes, stderr.text())
    assert.equal(complete.lines().filter((line) => line && line !== '--help').sort(), takes.sort(), command)
  }
})

test('a config that cannot be loaded completes nothing, and says nothing', async () => {
  const broken = path.join(dir, 'broken')
  await mkdir(broken)
  await writeFile(path.join(broken, 'kspawn.config.mjs'), 'export default {\n')
  for (const words of [['run', 'dev-loop', '--variant', ''], ['down', ''], ['task', '']]) {
    const stdout = capture()
    const stderr = capture()
    assert.is(await main(['--get-yargs-completions', 'kspawn', ...words], { stdout, stderr, cwd: broken }), 0)
    assert.is(stderr.text(), '')
    if (words[0] !== 'task') assert.is(stdout.text(), '', words.join(' '))
  }
})

test.run()
