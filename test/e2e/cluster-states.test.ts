// `kspawn clusters` as a cluster kspawn made changes under it in the test
// world: running, then one machine powered off (partly running), every
// machine powered off and their images removed (stopped), and removed with
// kube-spawn itself (gone). Each state's column is checked, and the line kspawn
// prints under it (the KUBECONFIG export, or the kspawn down to run) is run
// as a user pastes it, from a folder where only --config finds the config.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, HYPERKUBE, kubeSpawn, must, sh, world, type Result } from '../world/harness.ts'
import { kspawn as runKspawn, kspawnOnPath, paste, writeConfig } from './project.ts'

const test = suite('kspawn clusters: running, partly running, stopped, gone')

let home = ''
let bin = ''
const tag = 'v1.8.5-beta.0-cs-alpha'
const cluster = 'csalpha'
const machines = [`kubespawn${cluster}0`, `kubespawn${cluster}1`]
// Relative, as the user typed it in `home`: there is no kspawn.config.ts there or above for discovery to find.
const config = join('configs', 'states.config.ts')
const dir = () => world().KSPAWN_WORLD_KUBE_SPAWN_DIR

function kspawn(args: string[]): Promise<Result> {
  return runKspawn(home, [...args, '--config', config])
}

/** The machines of the cluster that machinectl lists as running, waiting (up to a minute) for `expected`. */
async function running(expected: string[]): Promise<string[]> {
  for (let tries = 0; ; tries++) {
    const listed = (await must(['machinectl', 'list', '--no-legend'])).stdout
    const up = machines.filter((machine) => listed.includes(machine))
    if (up.join() === expected.join() || tries === 60) return up
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}

/** `kspawn clusters`, with the row of the cluster and the line under it. */
async function listed(): Promise<{ row: string; under: string; stdout: string }> {
  const result = await kspawn(['clusters'])
  assert.is(result.exitCode, 0, result.output)
  const lines = result.stdout.split('\n')
  assert.is(lines[0], '  CLUSTER  VARIANT  DEPLOYER    TAG                     NODES  STATE', result.stdout)
  const at = lines.findIndex((line) => line.startsWith(`  ${cluster}  `))
  assert.ok(at > 0, result.stdout)
  return { row: lines[at]!, under: lines[at + 1] ?? '', stdout: result.stdout }
}

/** The command at the end of a line of advice, after "with: ". */
function advised(line: string): string {
  const command = /with: (kspawn .*)$/.exec(line)?.[1]
  assert.ok(command, `no command in ${JSON.stringify(line)}`)
  return command
}

/** Pastes the advice to remove the cluster, and checks that nothing of it is left. */
async function removedAsAdvised(line: string, said: string): Promise<void> {
  const command = advised(line)
  assert.is(command, `kspawn down ${cluster} --config ${config}`)
  const down = await paste(command, home, bin)
  assert.is(down.exitCode, 0, down.output)
  assert.match(down.stdout, `${said}\n`)
  assert.is((await must(['docker', 'ps', '-aq', '--filter', `name=kubespawn${cluster}`])).stdout.trim(), '')
  assert.not.ok(existsSync(join(dir(), cluster)), "kube-spawn's folder of the cluster is gone")
  assert.equal(await readdir(join(home, 'work', 'clusters')), [])
  assert.match((await kspawn(['clusters'])).stdout, 'kspawn has made no cluster that is still recorded')
}

async function clusterUp(): Promise<void> {
  const up = await kspawn(['task', 'cluster-up', '--variant', 'alpha'])
  assert.is(up.exitCode, 0, up.output.slice(-4000))
  assert.equal(await running(machines), machines)
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-cluster-states-'))
  bin = await kspawnOnPath(join(home, 'bin'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  await mkdir(join(home, 'configs'))
  const alpha = `alpha: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: '${cluster}' }`
  await writeConfig(join(home, config), { checkout, workdir: join(home, 'work'), variants: [alpha], smoke: '[]' })
})

test.after(async () => {
  await kubeSpawn(['stop', '-c', cluster])
  await kubeSpawn(['destroy', '-c', cluster])
  await sh(['docker', 'rmi', '--force', `${HYPERKUBE}:${tag}`])
  if (home) await rm(home, { recursive: true, force: true })
})

test('running: the KUBECONFIG line reaches the cluster when pasted', async () => {
  const run = await kspawn(['run', 'dev-loop'])
  assert.is(run.exitCode, 0, run.output.slice(-4000))
  // The same command as under a cluster that does not run, which the next tests paste.
  assert.match(run.stdout, `      the cluster stays up; remove it with: kspawn down ${cluster} --config ${config}\n`)
  const { row, under } = await listed()
  assert.is(row, `  ${cluster}  alpha    kube-spawn  ${tag}  2      running`)
  assert.is(under, `    export KUBECONFIG=${join(dir(), cluster, 'kubeconfig')}`)
  const nodes = await paste(`${under.trim()}; kubectl get nodes`, home, bin)
  assert.is(nodes.exitCode, 0, nodes.output)
  for (const machine of machines) assert.match(nodes.stdout, new RegExp(`^${machine} +Ready `, 'm'))
})

test('partly running: one machine powered off; the advice removes the cluster', async () => {
  await must(['machinectl', 'poweroff', machines[1]!])
  assert.equal(await running([machines[0]!]), [machines[0]])
  const { row, under } = await listed()
  assert.is(row, `  ${cluster}  alpha    kube-spawn  ${tag}  2      partly running`)
  assert.is(under, `    ${machines[1]} does not run, so the cluster is not whole; remove it with: kspawn down ${cluster} --config ${config}`)
  await removedAsAdvised(under, `removed cluster ${cluster}`)
})

test('stopped: every machine powered off, then their images removed; the advice removes the cluster', async () => {
  await clusterUp()
  await must(['machinectl', 'poweroff', ...machines])
  assert.equal(await running([]), [])
  const stopped = await listed()
  assert.is(stopped.row, `  ${cluster}  alpha    kube-spawn  ${tag}  2      stopped`)
  assert.is(stopped.under, `    none of its machines runs; remove it with: kspawn down ${cluster} --config ${config}`)

  await must(['machinectl', 'remove', ...machines])
  assert.is((await must(['docker', 'ps', '-aq', '--filter', `name=kubespawn${cluster}`])).stdout.trim(), '')
  // kube-spawn's kspawn.toml still names the machines: the cluster is there, stopped.
  const removed = await listed()
  assert.is(removed.row, stopped.row)
  assert.is(removed.under, stopped.under)
  await removedAsAdvised(removed.under, `removed cluster ${cluster}`)
})

test('gone: removed with kube-spawn itself; the advice makes kspawn forget it', async () => {
  await clusterUp()
  await must(['kube-spawn', '-d', dir(), 'stop', '-c', cluster])
  await must(['kube-spawn', '-d', dir(), 'destroy', '-c', cluster])
  const { row, under } = await listed()
  assert.is(row, `  ${cluster}  alpha    kube-spawn  ${tag}  2      gone`)
  assert.is(under, `    kube-spawn no longer has it; forget it with: kspawn down ${cluster} --config ${config}`)
  await removedAsAdvised(under, `forgot cluster ${cluster}: kube-spawn no longer had it`)
})

test.run()
