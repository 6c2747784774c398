// Cleanup that itself fails, in the test world: cluster-up fails, its
// rollback (kube-spawn stop and destroy) fails too, and so does `kspawn down`
// until the cause is fixed. The fault is a real one of the filesystem: the
// cluster's kspawn.toml is made immutable (chattr +i), so that kube-spawn
// cannot save it, as on a read-only or full disk. The messages must say why,
// what is left and how to remove it; the exit status stays the failure's;
// and the commands they print must work once the cause is fixed.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world } from '../world/harness.ts'
import { fileHolds, kspawn, newRun, runFolders, startKspawn, writeConfig } from './project.ts'

const test = suite('cleanup that fails')

let home: string
let config: string
const workdir = () => join(home, 'work')
const kubeSpawnDir = () => world().KSPAWN_WORLD_KUBE_SPAWN_DIR
const clusterFile = () => join(kubeSpawnDir(), 'cfbeta', 'kspawn.toml')
const tag = 'v1.8.5-beta.0-cf-beta'

async function machines(): Promise<string[]> {
  return (await must(['machinectl', 'list', '--no-legend'])).stdout.split('\n').filter((line) => line.startsWith('kubespawncfbeta')).map((line) => line.split(/\s+/)[0] ?? '')
}

/** The lines after `lead` in `text` that are indented by `indent` spaces: the commands a message lists. */
function linesAfter(text: string, lead: string, indent: number): string[] {
  const lines = text.split('\n')
  const start = lines.findIndex((line) => line.includes(lead))
  assert.ok(start >= 0, `no line with ${JSON.stringify(lead)} in:\n${text}`)
  const listed: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' '.repeat(indent)) || line.startsWith(' '.repeat(indent + 1))) break
    listed.push(line.trim())
  }
  return listed
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-cleanup-'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: workdir(),
    variants: [`beta: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: 'cfbeta' }`],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
})

test.after(async () => {
  await sh(['chattr', '-i', clusterFile()])
  await kubeSpawn(['stop', '-c', 'cfbeta'])
  await kubeSpawn(['destroy', '-c', 'cfbeta'])
  await sh(['docker', 'rm', '--force', 'kubespawncfbeta0', 'kubespawncfbeta1'])
  await sh(['docker', 'image', 'rm', `${HYPERKUBE}:${tag}`])
  await rm(home, { recursive: true, force: true })
})

test('cluster-up fails, its rollback and kspawn down fail as well: each says why, what is left and how to remove it, and those commands work once the cause is fixed', async () => {
  const before = await runFolders(workdir())
  const running = startKspawn(home, ['run', 'dev-loop', '--config', config])
  const run = await newRun(workdir(), before)
  // Once kube-spawn start runs, create has written kspawn.toml: from now on it cannot be written.
  await Promise.race([fileHolds(join(run, 'beta', 'cluster-up.log'), `$ kube-spawn -d ${kubeSpawnDir()} start -c cfbeta\n`), running.exited])
  await must(['chattr', '+i', clusterFile()])
  const code = await running.exited
  const output = running.output()

  assert.is(code, 1, output.slice(-4000))
  const denied = `failed to write to config file: EPERM: operation not permitted, open '${clusterFile()}'`
  // The step's failure: kube-spawn start could not save kspawn.toml.
  assert.match(output, `\n  ✖ beta failed at cluster-up\n      cluster-up (beta) failed: kube-spawn -d ${kubeSpawnDir()} start -c cfbeta exited with code 1\n`)
  // The rollback's: why destroy failed, what is left, how to remove it.
  assert.match(
    output,
    `warning: cluster-up (beta): rollback failed, undo by hand what the step left: cluster cfbeta did not come up, and removing what was made of it failed: cluster-up (beta) failed: kube-spawn -d ${kubeSpawnDir()} destroy -c cfbeta exited with code 1\n`,
  )
  assert.match(output, `    ${denied}\n`)
  assert.match(
    output,
    [
      `  Left of cluster cfbeta: its folder ${join(kubeSpawnDir(), 'cfbeta')} (with kspawn.toml).`,
      // The run was given --config: so is the kspawn down it prints.
      `  Once the cause is fixed, remove it with \`kspawn down cfbeta --config ${config}\`, or by hand:`,
      `    kube-spawn -d ${kubeSpawnDir()} stop -c cfbeta`,
      `    kube-spawn -d ${kubeSpawnDir()} destroy -c cfbeta`,
    ].join('\n'),
  )
  assert.match(output, `      cluster cfbeta was not brought up and is left half made; remove it with: kspawn down cfbeta --config ${config}\n`)
  const state = JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
  assert.equal({ status: state.status, exitCode: state.exitCode, halfMade: state.variants[0]?.state.halfMadeCluster }, { status: 'failed', exitCode: 1, halfMade: 'cfbeta' })
  assert.equal(await machines(), [], 'the machines were terminated: only the folder is left, as the message says')
  assert.ok(existsSync(join(kubeSpawnDir(), 'cfbeta')))

  // The command the summary gives, before the cause is fixed: it fails, and says so in the same way.
  const failing = await kspawn(home, ['down', 'cfbeta'])
  assert.is(failing.exitCode, 1, failing.output)
  assert.match(failing.stderr, `could not remove cluster cfbeta: down (cfbeta) failed: kube-spawn -d ${kubeSpawnDir()} destroy -c cfbeta exited with code 1\n`)
  assert.match(failing.stderr, `    ${denied}\n`)
  assert.match(failing.stderr, `  Left of cluster cfbeta: its folder ${join(kubeSpawnDir(), 'cfbeta')} (with kspawn.toml).\n`)
  const byHand = linesAfter(failing.stderr, 'Once the cause is fixed, remove it with `kspawn down cfbeta`, or by hand:', 4)
  assert.equal(byHand, [`kube-spawn -d ${kubeSpawnDir()} stop -c cfbeta`, `kube-spawn -d ${kubeSpawnDir()} destroy -c cfbeta`])
  assert.ok(existsSync(join(workdir(), 'clusters', 'cfbeta.json')), 'kspawn still knows the cluster')

  // The cause fixed, the commands printed by hand work as pasted, and kspawn down then forgets the cluster.
  await must(['chattr', '-i', clusterFile()])
  for (const line of byHand) await must(line.split(' '))
  assert.not.ok(existsSync(join(kubeSpawnDir(), 'cfbeta')))
  const down = await kspawn(home, ['down', 'cfbeta'])
  assert.is(down.exitCode, 0, down.output)
  // Removed by hand, the cluster is gone from kube-spawn: kspawn only forgets it.
  assert.match(down.stdout, 'forgot cluster cfbeta: kube-spawn no longer had it\n')
  assert.not.ok(existsSync(join(workdir(), 'clusters', 'cfbeta.json')))
  assert.equal(await machines(), [])
})

test.run()
