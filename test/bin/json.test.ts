// `kspawn list --json`, `kspawn clusters --json` and `kspawn doctor --json`:
// one JSON document on stdout and nothing else, its fields checked against
// what the system says: the registry and the config for list, the cluster
// records, the deployer's answers and the run locks for clusters (through a
// deployer plugin of the test's own, as a config adds one), and the checks
// of the text output for doctor.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { ClustersJson } from '../../cli/clusters.ts'
import type { DoctorJson } from '../../cli/doctor.ts'
import type { ListJson } from '../../cli/list.ts'
import type { Registry } from '../../cli/registry.ts'
import { writeClusterRecord, type ClusterRecord } from '../../engine/cluster-records.ts'
import type { ClusterStatus, Deployer, PluginDefinition } from '../../engine/plugin.ts'
import { deployerSteps } from '../../engine/run/task.ts'
import { lockFile } from '../../engine/run/run-lock.ts'
import { builtinPlugins } from '../../plugins/index.ts'
import { fakeTask } from '../engine/workflow-helpers.ts'
import { inProcessCli, linkTools } from './in-process-cli.ts'

const fetch = fakeTask('fetch-source')
const clusterUp = fakeTask('cluster-up')
const registry: Registry = {
  workflows: [
    { id: 'dev-loop', description: 'the whole loop', tasks: [fetch, deployerSteps, clusterUp] },
    { id: 'fetch', description: 'only fetch', tasks: [fetch] },
  ],
  tasks: [fetch, clusterUp],
}

// What the test's deployer says of its clusters: kspawn's four and one it did not make.
const answers = new Map<string, ClusterStatus>([
  ['alpha', { state: 'running', machines: ['alpha-0', 'alpha-1'], running: ['alpha-0', 'alpha-1'] }],
  ['beta', { state: 'partly running', machines: ['beta-0', 'beta-1'], running: ['beta-0'] }],
  ['theirs', { state: 'running', machines: ['theirs-0'], running: ['theirs-0'], tag: 'v9' }],
])
const fakeDeployer = (options: { dir: string }): Deployer => ({
  kind: 'deployer',
  name: 'fake',
  options,
  shareName: 'fake-node',
  steps: async () => [fakeTask('node-image')],
  image: (variant) => `fake/node:${variant.tag}`,
  prepare: async () => ({ image: 'fake/node:x', tag: 'x', controlPlane: 'x' }),
  kubeconfig: (cluster) => path.join(options.dir, cluster, 'kubeconfig'),
  readySeconds: () => 1,
  exists: async (cluster) => answers.has(cluster),
  clusters: async () => [...answers.keys()],
  status: async (clusters) => new Map(clusters.map((cluster) => [cluster, answers.get(cluster) ?? { state: 'gone', machines: [], running: [] }])),
  up: async () => {},
  down: async () => {},
  downCommandLines: () => [],
  remains: async () => [],
})
const fakePlugin: PluginDefinition = {
  kind: 'deployer',
  name: 'fake',
  module: 'kspawn-fake',
  example: 'fake({ dir })',
  schema: async () => {
    const { z } = await import('zod')
    return z.object({ kind: z.literal('deployer'), name: z.literal('fake'), options: z.strictObject({ dir: z.string() }) })
  },
  revive: (data) => fakeDeployer(data.options as { dir: string }),
}

let dir = ''
test.before.each(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kspawn-json-'))
})
test.after.each(async () => {
  await rm(dir, { recursive: true, force: true })
})

const kspawn = inProcessCli(() => dir, () => registry, { loadPlugins: async () => [...builtinPlugins, fakePlugin] })

/** The output as JSON, checking that stdout holds one document and nothing else. */
function parsed<T>(stdout: string): T {
  assert.ok(stdout.endsWith('}\n'), stdout)
  return JSON.parse(stdout) as T
}

async function writeConfig(deployer: string, variants: string): Promise<string> {
  const file = path.join(dir, 'kspawn.config.mjs')
  await writeFile(file, ['export default {', `  kubernetes: { checkout: './kubernetes' },`, `  deployer: ${deployer},`, `  variants: { ${variants} },`, '}', ''].join('\n'))
  return file
}

const kubeSpawn = `{ kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' } }`

test('list --json: the workflows with their tasks, the tasks, the deployers with their steps, the variants', async () => {
  const file = await writeConfig(
    kubeSpawn,
    [
      `built: { source: { remote: 'https://github.com/kinvolk/kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' }, tag: 'v1.8.5-built' },`,
      `pulled: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-pulled', source: { remote: 'https://github.com/kinvolk/kubernetes', commit: 'eb0c026372a67eb49bbf80aa619f10ee94527bac' }, cluster: 'pulled-here' },`,
      `plain: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-plain' }`,
    ].join(' '),
  )
  for (const argv of [['list', '--json'], ['--config', 'kspawn.config.mjs', 'list', '--json'], ['list', '--json', '--config', 'kspawn.config.mjs']]) {
    const { exitCode, stdout, stderr } = await kspawn(argv)
    assert.is(exitCode, 0, stderr)
    assert.is(stderr, '')
    const list = parsed<ListJson>(stdout)
    const steps = [
      { id: 'build', description: "build/run.sh make in the variant's worktree (skipped when that tree was built with the same flags)" },
      { id: 'image', description: 'make -C cluster/images/hyperkube VERSION=<tag>: the hyperkube image the cluster runs' },
      { id: 'use-image', description: 'docker pull an external image and docker tag it as a local build would be (refused when its patch changes kubeadm)' },
    ]
    assert.equal(list, {
      version: 1,
      config: file,
      workflows: [
        { id: 'dev-loop', description: 'the whole loop', tasks: [{ id: 'fetch-source' }, { deployerSteps: { 'kube-spawn': ['build', 'image', 'use-image'] } }, { id: 'cluster-up' }] },
        { id: 'fetch', description: 'only fetch', tasks: [{ id: 'fetch-source' }] },
      ],
      tasks: registry.tasks.map((task) => ({ id: task.id, description: task.description })),
      deployers: [{ name: 'kube-spawn', steps }],
      variants: [
        { name: 'built', source: { remote: 'https://github.com/kinvolk/kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' }, builds: true, image: null, tag: 'v1.8.5-built', cluster: 'built', deployer: 'kube-spawn' },
        {
          name: 'pulled',
          source: { remote: 'https://github.com/kinvolk/kubernetes', commit: 'eb0c026372a67eb49bbf80aa619f10ee94527bac' },
          builds: false,
          image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-pulled',
          tag: 'v1.8.5-pulled',
          cluster: 'pulled-here',
          deployer: 'kube-spawn',
        },
        { name: 'plain', source: null, builds: false, image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-plain', tag: 'v1.8.5-plain', cluster: 'plain', deployer: 'kube-spawn' },
      ],
    })
  }
  // An error is no document: stdout stays empty, the message goes to stderr with the usual exit status.
  const missing = await kspawn(['list', '--json', '--config', 'nosuch.config.ts'])
  assert.equal(missing, { exitCode: 2, stdout: '', stderr: 'nosuch.config.ts: no such file\n' })
})

test("clusters --json: each of kspawn's clusters with its state, kubeconfig, run and kspawn down, and the deployer's others", async () => {
  const fakeDir = path.join(dir, 'fake')
  const file = await writeConfig(`{ kind: 'deployer', name: 'fake', options: { dir: ${JSON.stringify(fakeDir)} } }`, ['alpha', 'beta', 'gamma', 'delta', 'omega'].map((name) => `${name}: { image: 'r/node:${name}' },`).join(' '))
  const workdir = path.join(dir, '.kspawn')
  const record = (cluster: string, more: Partial<ClusterRecord> = {}): ClusterRecord => ({
    cluster,
    variant: cluster,
    tag: cluster,
    image: `fake/node:${cluster}`,
    deployer: { name: 'fake', dir: fakeDir },
    kubeconfig: path.join(fakeDir, cluster, 'kubeconfig'),
    created: '2026-12-02T06:00:00.000Z',
    run: `20261202T060000Z-dev-loop`,
    config: file,
    ...more,
  })
  // alpha runs, and a live run (this process) uses it; beta runs in part; gamma is gone; delta is being made by
  // that live run, omega was begun by a run that ended; old was made by a deployer this config does not know.
  const live = { pid: process.pid, command: 'kspawn run dev-loop', since: '2026-12-02T06:10:00.000Z', run: '20261202T061000Z-dev-loop', runDir: path.join(workdir, 'runs', 'x'), commands: [] }
  for (const made of [
    record('alpha'),
    record('beta'),
    record('gamma'),
    record('delta', { making: true, run: live.run }),
    record('omega', { making: true }),
    record('old', { deployer: { name: 'vanished', nodes: 3 } }),
  ])
    await writeClusterRecord(workdir, made)
  await mkdir(path.join(workdir, 'locks'), { recursive: true })
  for (const variant of ['alpha', 'delta']) await writeFile(lockFile(workdir, variant), JSON.stringify(live))

  const { exitCode, stdout, stderr } = await kspawn(['clusters', '--json'])
  assert.is(exitCode, 0, stderr)
  assert.is(stderr, '')
  const listed = parsed<ClustersJson>(stdout)
  const usedBy = { run: live.run, pid: live.pid, command: live.command, since: live.since }
  const madeBy = { run: '20261202T060000Z-dev-loop', created: '2026-12-02T06:00:00.000Z' }
  const common = (cluster: string) => ({ name: cluster, variant: cluster, deployer: 'fake', tag: cluster, image: `fake/node:${cluster}`, madeBy, down: `kspawn down ${cluster}` })
  assert.equal(listed, {
    version: 1,
    config: file,
    workdir,
    clusters: [
      { ...common('alpha'), nodes: 2, machines: ['alpha-0', 'alpha-1'], running: ['alpha-0', 'alpha-1'], state: 'running', kubeconfig: path.join(fakeDir, 'alpha', 'kubeconfig'), usedBy },
      { ...common('beta'), nodes: 2, machines: ['beta-0', 'beta-1'], running: ['beta-0'], state: 'partly running', kubeconfig: null, usedBy: null },
      { ...common('delta'), nodes: null, machines: [], running: [], state: 'being made', kubeconfig: null, usedBy, madeBy: { ...madeBy, run: live.run } },
      { ...common('gamma'), nodes: null, machines: [], running: [], state: 'gone', kubeconfig: null, usedBy: null },
      { ...common('old'), deployer: 'vanished', nodes: 3, machines: [], running: [], state: 'unknown', kubeconfig: null, usedBy: null },
      { ...common('omega'), nodes: null, machines: [], running: [], state: 'half made', kubeconfig: null, usedBy: null },
    ],
    others: [{ name: 'theirs', deployer: 'fake', tag: 'v9', nodes: 1, state: 'running', kubeconfig: path.join(fakeDir, 'theirs', 'kubeconfig') }],
  })

  // The same facts as the text says them, row by row.
  const text = await kspawn(['clusters'])
  for (const cluster of listed.clusters) assert.match(text.stdout, new RegExp(`^  ${cluster.name} +${cluster.variant} +${cluster.deployer} +${cluster.tag} +${cluster.nodes ?? '-'} +${cluster.state}$`, 'm'))
  assert.match(text.stdout, `    export KUBECONFIG=${path.join(fakeDir, 'alpha', 'kubeconfig')}\n`)
  // With --config, the kspawn down line carries it, as the text's does.
  const configured = parsed<ClustersJson>((await kspawn(['clusters', '--json', '--config', 'kspawn.config.mjs'])).stdout)
  assert.is(configured.clusters[0]!.down, 'kspawn down alpha --config kspawn.config.mjs')
})

test('clusters --json with no cluster recorded: empty lists', async () => {
  const file = await writeConfig(`{ kind: 'deployer', name: 'fake', options: { dir: '/nowhere' } }`, `web: { image: 'r/node:web' }`)
  answers.delete('theirs')
  try {
    const listed = parsed<ClustersJson>((await kspawn(['clusters', '--json'])).stdout)
    assert.equal(listed.clusters, [])
    assert.is(listed.config, file)
    assert.equal(
      listed.others.map((other) => other.name),
      ['alpha', 'beta'],
      "the deployer's clusters that kspawn has no record of",
    )
  } finally {
    answers.set('theirs', { state: 'running', machines: ['theirs-0'], running: ['theirs-0'], tag: 'v9' })
  }
})

const toolsFolder = (name: string, tools: string[]) => linkTools(path.join(dir, name), tools)

test('doctor --json: each check as the text shows it, ok overall, and the same exit status', async () => {
  const bin = await toolsFolder('bin', ['bash', 'git', 'make', 'docker', 'kubectl'])
  const file = await writeConfig(kubeSpawn, `web: { image: 'docker.io/kinvolk/hyperkube-amd64:v1' }`)
  const env = { PATH: bin }
  const json = await kspawn(['doctor', '--json'], { env })
  const text = await kspawn(['doctor'], { env: { ...env, NO_COLOR: '1' } })
  assert.is(json.exitCode, 1)
  assert.is(json.exitCode, text.exitCode)
  assert.is(json.stderr, '')
  const doctor = parsed<DoctorJson>(json.stdout)
  assert.is(doctor.version, 1)
  assert.is(doctor.config, file)
  assert.is(doctor.ok, false)
  assert.equal(doctor.checks.find((check) => check.name === 'kube-spawn'), {
    name: 'kube-spawn',
    ok: false,
    found: 'missing',
    purpose: 'to create and start a cluster for each variant',
    fix: 'download it from https://github.com/kinvolk/kube-spawn/releases and put it on PATH',
    optional: null,
  })
  assert.equal(doctor.checks.find((check) => check.name === 'sudo'), { name: 'sudo', ok: true, found: 'not needed, kspawn runs as root', purpose: 'to run kube-spawn as root (sudo -E)', fix: null, optional: null })
  // Every check, in the text's order, with its mark and what was found; the missing ones as the text names them.
  const marks = text.stdout.split('\n').filter((line) => /^  [✔✖○] /.test(line))
  assert.is(marks.length, doctor.checks.length)
  for (const [i, check] of doctor.checks.entries()) assert.ok(marks[i]!.startsWith(`  ${check.ok ? '✔' : '✖'} ${check.name} `) && marks[i]!.includes(` ${check.found} — ${check.purpose}`), marks[i])
  assert.match(text.stdout, `Missing: ${doctor.missing.join(', ')}.\n`)
  assert.ok(doctor.missing.includes('kube-spawn'))

  // Without a config, and with another deployer's tools there: optional checks, and ok.
  await rm(file)
  await writeFile(path.join(bin, 'kube-spawn'), '#!/bin/sh\n', { mode: 0o755 })
  const none = await kspawn(['doctor', '--json'], { env, loadPlugins: async () => builtinPlugins })
  const bare = parsed<DoctorJson>(none.stdout)
  assert.is(bare.config, null)
  const kind = bare.checks.find((check) => check.name === 'kind')!
  assert.is(kind.ok, false)
  assert.is(kind.optional, 'needed only with kind; kube-spawn can run here')
  assert.not.ok(bare.missing.includes('kind'))
  assert.is(bare.ok, bare.missing.length === 0)
  assert.is(none.exitCode, bare.ok ? 0 : 1)
})

test.run()
