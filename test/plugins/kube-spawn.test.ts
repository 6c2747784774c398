// The kube-spawn deployer without running kube-spawn: the command lines it
// builds, how it runs them (root, GOPATH, dry-run), and what a config sees of it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { loadPlugins, parseConfig } from '../../engine/config/config-schema.ts'
import { builtinPlugins } from '../../plugins/index.ts'

const plugins = await loadPlugins(builtinPlugins)
import { ConfigError } from '../../engine/errors.ts'
import type { StepIO } from '../../engine/plugin.ts'
import type { Command, CommandResult } from '../../engine/runner/runner.ts'
import { createArgv, destroyArgv, kubeSpawn, startArgv, stopArgv } from '../../plugins/kube-spawn/index.ts'

const options = kubeSpawn({ dir: '/var/lib/kube-spawn', nodes: 2 }).options

/** A StepIO that records commands and answers each with an empty success (what dry-run does). */
function recordingIO(dryRun = true, isRoot = true): StepIO & { commands: Command[]; warnings: string[] } {
  const commands: Command[] = []
  const warnings: string[] = []
  return {
    commands,
    warnings,
    dryRun,
    isRoot,
    info: () => {},
    warn: (message) => void warnings.push(message),
    run: async (command): Promise<CommandResult> => {
      commands.push(command)
      return { argv: command.argv, commandLine: formatCommandLine(command.argv), exitCode: 0, signal: null, durationMs: 0, tail: [], dryRun }
    },
  }
}

test('the article commands, with the state folder always named', () => {
  assert.equal(createArgv(options, 'denyattach', 'v1.8.5-beta.0-denyattach'), [
    'kube-spawn', '-d', '/var/lib/kube-spawn', 'create', '--dev', '-t', 'v1.8.5-beta.0-denyattach', '-c', 'denyattach', '-n', '2',
  ])
  assert.equal(startArgv(options, 'denyattach'), ['kube-spawn', '-d', '/var/lib/kube-spawn', 'start', '-c', 'denyattach'])
  assert.equal(stopArgv(options, 'denyattach'), ['kube-spawn', '-d', '/var/lib/kube-spawn', 'stop', '-c', 'denyattach'])
  assert.equal(destroyArgv(options, 'denyattach'), ['kube-spawn', '-d', '/var/lib/kube-spawn', 'destroy', '-c', 'denyattach'])
  assert.equal(createArgv(kubeSpawn({ nodes: 3, dir: '/srv/ks' }).options, 'web', 'v1')[2], '/srv/ks')
  assert.equal(createArgv(kubeSpawn({ nodes: 3 }).options, 'web', 'v1').slice(-2), ['-n', '3'])
})

/** What kube-spawn's steps made for a variant: the hyperkube image of a tag, and the $GOPATH of the build. */
const made = (tag: string, gopath: string) => ({ image: `gcr.io/google-containers/hyperkube-amd64:${tag}`, tag, controlPlane: 'made', data: { gopath } })

test('up runs create then start as root, with GOPATH pointing at the build', async () => {
  const io = recordingIO()
  await kubeSpawn().up({ name: 'denyattach', image: made('v1.8.5-beta.0-denyattach', '/work/.kspawn/worktrees/denyattach') }, io)
  assert.equal(
    io.commands.map((command) => command.argv.slice(3, 4)[0]),
    ['create', 'start'],
  )
  for (const command of io.commands) {
    assert.is(command.needsRoot, true)
    assert.equal(command.env, { GOPATH: '/work/.kspawn/worktrees/denyattach' })
  }
})

test('sudo: false never asks for root; the commands to remove a cluster by hand say sudo -E only when needed', async () => {
  const io = recordingIO()
  await kubeSpawn({ sudo: false }).up({ name: 'web', image: made('v1', '/g') }, io)
  assert.ok(io.commands.every((command) => command.needsRoot === false))
  assert.equal(kubeSpawn().downCommandLines('web', false), [
    'sudo -E kube-spawn -d /var/lib/kube-spawn stop -c web',
    'sudo -E kube-spawn -d /var/lib/kube-spawn destroy -c web',
  ])
  assert.equal(kubeSpawn().downCommandLines('web', true), ['kube-spawn -d /var/lib/kube-spawn stop -c web', 'kube-spawn -d /var/lib/kube-spawn destroy -c web'])
  assert.equal(kubeSpawn({ sudo: false }).downCommandLines('web', false)[0], 'kube-spawn -d /var/lib/kube-spawn stop -c web')
})

test('a cluster exists once kube-spawn wrote its kspawn.toml; down removes what a failed create left', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-ks-'))
  try {
    const deployer = kubeSpawn({ dir })
    assert.is(await deployer.exists('web', recordingIO()), false)
    assert.is(deployer.kubeconfig('web'), path.join(dir, 'web', 'kubeconfig'))

    // kube-spawn create stops before writing kspawn.toml when it fails: kube-spawn destroy cannot remove that.
    await mkdir(path.join(dir, 'web', 'rootfs'), { recursive: true })
    assert.is(await deployer.exists('web', recordingIO()), false)
    const leftovers = recordingIO(false)
    await deployer.down('web', leftovers)
    assert.equal(leftovers.commands.map((command) => command.argv), [['rm', '-rf', '--', path.join(dir, 'web')]])

    await writeFile(path.join(dir, 'web', 'kspawn.toml'), 'name = "web"\n')
    assert.is(await deployer.exists('web', recordingIO()), true)
    const io = recordingIO(false)
    await deployer.down('web', io)
    assert.equal(io.commands.map((command) => command.argv.slice(3)), [['stop', '-c', 'web'], ['destroy', '-c', 'web']])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('down terminates first the machines that run while kspawn.toml does not say so, which kube-spawn would leave running', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-ks-'))
  try {
    // What an interrupted start leaves: both machines booted, kspawn.toml not yet saved with running = true for the second.
    const machine = (name: string, running: boolean) => `[[machines]]\n  name = "${name}"\n  running = ${running}\n`
    await mkdir(path.join(dir, 'web'))
    await writeFile(path.join(dir, 'web', 'kspawn.toml'), `nodes = 2\n\n${machine('kubespawnweb0', true)}\n${machine('kubespawnweb1', false)}`)
    const io = recordingIO(false)
    const run = io.run
    io.run = async (command) => {
      const result = await run(command)
      return command.argv[0] === 'machinectl' ? { ...result, stdout: 'kubespawnweb0 container systemd-nspawn coreos 1492.1.0 10.22.0.2...\nkubespawnweb1 container systemd-nspawn coreos 1492.1.0 10.22.0.3...\n' } : result
    }
    await kubeSpawn({ dir }).down('web', io)
    assert.equal(
      io.commands.map((command) => command.argv.filter((arg) => arg !== dir)),
      [['machinectl', 'list', '--no-legend', '--no-pager'], ['machinectl', 'terminate', 'kubespawnweb1'], ['kube-spawn', '-d', 'stop', '-c', 'web'], ['kube-spawn', '-d', 'destroy', '-c', 'web']],
    )
    assert.is(io.commands[1]?.needsRoot, true)
    assert.equal(io.warnings, ['the machines kubespawnweb1 of cluster web run, but its kspawn.toml does not say so, and kube-spawn would leave them: terminating them'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a config sees the fields, and validation still reports a misspelt option', async () => {
  const deployer = kubeSpawn({ nodes: 3 })
  assert.equal(Object.keys(deployer), ['kind', 'name', 'options'])
  const base = { kubernetes: { checkout: '/k' }, variants: { web: { image: 'r/h:v1' } } }
  const config = await parseConfig({ ...base, deployer }, { plugins, file: '/p/kspawn.config.ts' })
  assert.is(config.deployer, deployer)
  assert.type(config.deployer.up, 'function')
  try {
    await parseConfig({ ...base, deployer: kubeSpawn({ nodez: 3 } as never) }, { plugins, file: '/p/kspawn.config.ts' })
    assert.unreachable('a misspelt option was accepted')
  } catch (error) {
    assert.instance(error, ConfigError)
    assert.match((error as Error).message, 'deployer.options: expected only the fields nodes, dir, sudo and readySeconds, found unknown field "nodez" (did you mean "nodes"?)')
  }
})

test('a config written as plain data gets the behaviour of the plugins it names', async () => {
  const config = await parseConfig(
    {
      kubernetes: { checkout: '/k' },
      deployer: { kind: 'deployer', name: 'kube-spawn', options: { nodes: 3, dir: '/d', sudo: false } },
      variants: { web: { image: 'r/h:v1' } },
      smoke: [{ kind: 'tester', name: 'admission', operation: 'attach', expect: 'deny', message: 'rejected by' }],
    },
    { plugins, file: '/p/kspawn.config.mjs' },
  )
  assert.type(config.deployer.up, 'function')
  assert.equal({ ...config.deployer }, { ...kubeSpawn({ nodes: 3, dir: '/d', sudo: false }) })
  const tester = config.variants[0]!.smoke[0]!
  assert.type(tester.run, 'function')
  assert.is(tester.describe(), 'attach is denied with "rejected by"')
})

test.run()
