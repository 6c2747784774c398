// The lifecycle of kspawn's clusters in the test world: what kspawn records,
// `kspawn clusters`, `kspawn down` (one, --all, --force for a cluster kspawn
// did not make), `run --teardown` after a failing smoke test, and a cluster
// name that kube-spawn would make collide, refused before anything runs.
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, kubeSpawn, messages, must, sh, world, type Result } from '../world/harness.ts'
import { isAlive as alive } from '../world/process.ts'
import { kspawn as runKspawn, writeConfig as writeE2eConfig } from './project.ts'

const test = suite('cluster lifecycle')

let home: string
let checkout: string
const dir = () => world().KSPAWN_WORLD_KUBE_SPAWN_DIR
const tag = 'v1.8.5-beta.0-lc-alpha'

function writeConfig(name: string, variants: Record<string, string>): Promise<string> {
  const smoke = `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`
  return writeE2eConfig(join(home, name), { checkout, workdir: join(home, 'work'), variants: Object.values(variants), smoke })
}

const alpha = `    alpha: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: 'lcalpha' },`
const upstream = `    upstream: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_UPSTREAM)}, tag: 'v1.8.5-beta.0' }, tag: 'v1.8.5-beta.0-lc-up', cluster: 'lcup' },`

function kspawn(args: string[]): Promise<Result> {
  return runKspawn(home, args)
}

async function machines(): Promise<string> {
  return (await must(['machinectl', 'list'])).stdout
}

async function apiserverPid(cluster: string): Promise<number> {
  return (JSON.parse(await readFile(join(dir(), cluster, 'apiserver.json'), 'utf8')) as { pid: number }).pid
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-lifecycle-'))
  checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
})

test.after(async () => {
  for (const cluster of ['lcalpha', 'lcforeign', 'lcup']) {
    await kubeSpawn(['stop', '-c', cluster])
    await kubeSpawn(['destroy', '-c', cluster])
  }
  await sh(['docker', 'image', 'rm', `gcr.io/google-containers/hyperkube-amd64:${tag}`, 'gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-lc-up'])
  await rm(home, { recursive: true, force: true })
})

test('a cluster name ending in a digit is refused before anything runs', async () => {
  const config = await writeConfig('digit.config.ts', { x: alpha.replace("cluster: 'lcalpha'", "cluster: 'lcx1'") })
  const result = await kspawn(['run', 'dev-loop', '--config', config])
  assert.is(result.exitCode, 2, result.output)
  assert.is(
    result.stderr,
    'digit.config.ts: variants.alpha.cluster: expected a cluster name (a lowercase DNS label not ending in a digit), found "lcx1" ' +
      '(it ends in a digit; kube-spawn v0.2 names machines kubespawn<cluster><index>, so machine 0 of cluster "lcx1" and machine 10 of cluster "lcx" are both kubespawnlcx10: ' +
      'use a name ending in a letter, such as "lcx-one" or "lcxa")\n',
  )
  assert.not.match(await machines(), 'kubespawnlcx')
  assert.not.ok(existsSync(join(home, 'work')), 'nothing was written')
})

test('kspawn records its cluster, lists it with a foreign one, and down removes only its own unless forced', async () => {
  const config = await writeConfig('kspawn.config.ts', { alpha })
  const run = await kspawn(['run', 'dev-loop', '--config', config])
  assert.is(run.exitCode, 0, run.output.slice(-4000))
  // With the --config the run was given, so that it works when pasted anywhere.
  assert.match(run.stdout, `      the cluster stays up; remove it with: kspawn down lcalpha --config ${config}\n`)
  const record = JSON.parse(await readFile(join(home, 'work', 'clusters', 'lcalpha.json'), 'utf8')) as Record<string, unknown>
  assert.equal(
    { ...record, created: typeof record.created, run: typeof record.run, runs: typeof record.runs },
    {
      cluster: 'lcalpha',
      variant: 'alpha',
      tag,
      image: `gcr.io/google-containers/hyperkube-amd64:${tag}`,
      deployer: { nodes: 2, dir: dir(), sudo: 'auto', readySeconds: 180, name: 'kube-spawn' },
      kubeconfig: join(dir(), 'lcalpha', 'kubeconfig'),
      created: 'string',
      run: 'string',
      config,
      // What it runs: the image's id and the binaries the machines took.
      runs: 'string',
    },
  )

  // A cluster made with kube-spawn directly, on the same build.
  const env = { GOPATH: join(home, 'work', 'worktrees', 'alpha') }
  await must(['kube-spawn', '-d', dir(), 'create', '--dev', '-t', tag, '-c', 'lcforeign'], { env })
  await must(['kube-spawn', '-d', dir(), 'start', '-c', 'lcforeign'], { env })

  const listed = await kspawn(['clusters'])
  assert.is(listed.exitCode, 0, listed.output)
  assert.match(
    listed.stdout,
    [
      '  CLUSTER  VARIANT  DEPLOYER    TAG                     NODES  STATE',
      `  lcalpha  alpha    kube-spawn  ${tag}  2      running`,
      `    export KUBECONFIG=${join(dir(), 'lcalpha', 'kubeconfig')}`,
      '',
      "Not made by kspawn, among kube-spawn's clusters (kspawn down leaves them alone unless --force):",
    ].join('\n'),
  )
  assert.match(listed.stdout, new RegExp(`  lcforeign +${tag} +2 +running\n    export KUBECONFIG=${join(dir(), 'lcforeign', 'kubeconfig')}\n`))

  const foreign = await kspawn(['down', 'lcforeign'])
  assert.is(foreign.exitCode, 1)
  assert.is(foreign.stderr, `cluster lcforeign was not made by kspawn (no record in ${join(home, 'work', 'clusters')}): left alone; rerun with --force to remove it anyway\n`)
  assert.match(await machines(), 'kubespawnlcforeign0')

  const unknown = await kspawn(['down', 'lcnothing'])
  assert.is(unknown.exitCode, 2)
  assert.match(unknown.stderr, /^unknown cluster "lcnothing": kspawn's clusters are lcalpha; kube-spawn also has [^\n]*lcforeign[^\n]*, which kspawn did not make \(kspawn clusters shows them\)\n$/)

  const planned = await kspawn(['down', 'lcalpha', '--dry-run'])
  assert.is(planned.exitCode, 0, planned.output)
  assert.is(planned.stdout, `$ kube-spawn -d ${dir()} stop -c lcalpha\n$ kube-spawn -d ${dir()} destroy -c lcalpha\n`)
  assert.match(await machines(), 'kubespawnlcalpha0')

  const pid = await apiserverPid('lcalpha')
  assert.ok(alive(pid))
  const all = await kspawn(['down', '--all'])
  assert.is(all.exitCode, 0, all.output)
  assert.match(all.stdout, 'removed cluster lcalpha\n')
  assert.match(all.stdout, 'left alone, not made by kspawn: ')
  assert.not.match(await machines(), 'kubespawnlcalpha')
  assert.is((await must(['docker', 'ps', '-a', '--filter', 'name=kubespawnlcalpha', '-q'])).stdout.trim(), '')
  assert.not.ok(alive(pid), 'the API server of lcalpha is stopped')
  assert.not.ok(existsSync(join(dir(), 'lcalpha')), 'no kubeconfig or cluster folder is left')
  assert.equal(await readdir(join(home, 'work', 'clusters')), [])
  assert.match(await machines(), 'kubespawnlcforeign0', 'the foreign cluster is left alone')

  const forced = await kspawn(['down', 'lcforeign', '--force'])
  assert.is(forced.exitCode, 0, forced.output)
  assert.match(forced.stdout, 'removed cluster lcforeign (not made by kspawn; removed with --force)\n')
  assert.not.match(await machines(), 'kubespawnlcforeign')
  assert.not.ok(existsSync(join(dir(), 'lcforeign')))
})

test('--teardown removes the cluster also when the smoke test failed, and the run exits 1', async () => {
  const config = await writeConfig('upstream.config.ts', { upstream })
  const result = await kspawn(['run', 'dev-loop', '--config', config, '--teardown'])
  assert.is(result.exitCode, 1, result.output.slice(-4000))
  assert.match(result.stdout, 'attach was allowed')
  assert.match(result.stdout, '      cluster lcup removed (--teardown)\n')
  assert.not.match(await machines(), 'kubespawnlcup')
  assert.not.ok(existsSync(join(dir(), 'lcup')))
  assert.not.ok(existsSync(join(home, 'work', 'clusters', 'lcup.json')))
})

test.run()
