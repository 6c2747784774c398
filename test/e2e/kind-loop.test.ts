// The DenyAttach loop on today's Kubernetes with kind, end to end in the test
// world: the real CLI, real git, a real Docker engine and registry and the
// real kubectl; kind stood in for by test/world/bin/kind (kind v0.32.0), the
// API server by the world's emulator. What is asserted is what a user sees:
// exit codes, the summary (what the cluster answered), kind's own view of
// its clusters, the containers and files left behind.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, messages, must, sh, world } from '../world/harness.ts'
import { MODERN_BRANCHES } from '../world/fixture/generate.ts'
import { deniedWith, kspawn, newRun, runFolders, startKspawn, summaryOf, processesWith } from './project.ts'

const test = suite('the dev loop on kind')

let home: string
let workdir: string
let registryImage: string

/** Every container of kind clusters of these names, as kind finds them: by its label. */
async function nodeContainers(...clusters: string[]): Promise<string[]> {
  const listed = await must(['docker', 'ps', '--all', '--format', '{{.Label "io.x-k8s.kind.cluster"}} {{.Names}}', '--filter', 'label=io.x-k8s.kind.cluster'])
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .filter((line) => clusters.includes(line.split(' ')[0] ?? ''))
    .map((line) => line.split(' ')[1] ?? '')
    .sort()
}

async function kindClusters(): Promise<string[]> {
  const listed = await must(['kind', 'get', 'clusters'])
  return listed.stdout.split('\n').filter(Boolean)
}

const fork = () => JSON.stringify(world().KSPAWN_WORLD_FORK)
const denied = messages.denyattach

async function writeConfig(name: string, variants: string[]): Promise<string> {
  const file = join(home, name)
  await writeFile(
    file,
    [
      `import { defineConfig } from 'kspawn'`,
      `import { admission } from 'kspawn/plugins/admission'`,
      `import { kind } from 'kspawn/plugins/kind'`,
      `import { kubeSpawn } from 'kspawn/plugins/kube-spawn'`,
      `export default defineConfig({`,
      `  kubernetes: { checkout: './kubernetes' },`,
      `  workdir: ${JSON.stringify(workdir)},`,
      `  deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)} }),`,
      `  variants: {`,
      ...variants.map((line) => `    ${line},`),
      `  },`,
      `})`,
      '',
    ].join('\n'),
  )
  return file
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-kind-loop-'))
  workdir = join(home, 'work')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, join(home, 'kubernetes')])
  registryImage = `${world().KSPAWN_WORLD_REGISTRY}/e2e/kind-node:v1.36.1-denyattach`
})

test.after(async () => {
  // Whatever a failed test left: kspawn's own clean-up first, then kind's.
  await sh(['kind', 'delete', 'cluster', '--name', 'modern', '--kubeconfig', join(workdir, 'kind', 'modern', 'kubeconfig')])
  for (const cluster of ['pulled', 'notenabled', 'stopped', 'foreign']) await sh(['kind', 'delete', 'cluster', '--name', cluster, '--kubeconfig', join(home, 'left.kubeconfig')])
  await sh(['kube-spawn', '-d', world().KSPAWN_WORLD_KUBE_SPAWN_DIR, '-c', 'article', 'stop', '-f'])
  await sh(['kube-spawn', '-d', world().KSPAWN_WORLD_KUBE_SPAWN_DIR, '-c', 'article', 'destroy'])
  await rm(home, { recursive: true, force: true })
})

test('in one run, the 1.8 branch on kube-spawn and the modern branch on kind, side by side: both deny attach', async () => {
  const config = await writeConfig('kspawn.config.ts', [
    `article: { source: { remote: ${fork()}, branch: ${JSON.stringify(branches.denyattach)} }, tag: 'v1.8.5-beta.0-denyattach', smoke: [admission.denies('attach', { message: ${JSON.stringify(denied)} })] }`,
    `modern: { source: { remote: ${fork()}, branch: ${JSON.stringify(MODERN_BRANCHES.denyattach)} }, tag: 'v1.36.1-denyattach', deployer: kind({ admissionPlugins: ['DenyAttach'] }), smoke: [admission.denies('attach', { plugin: 'DenyAttach', message: ${JSON.stringify(denied)} })] }`,
  ])
  const result = await kspawn(home, ['run', 'dev-loop', '--config', config])
  assert.is(result.exitCode, 0, result.output.slice(-6000))
  assert.match(result.output, '2 of 2 variants passed')
  for (const variant of ['article', 'modern']) assert.match(summaryOf(result.output, variant), deniedWith(denied))

  // The kind variant ran kind's own commands, from its worktree, and its cluster runs that build.
  const [run] = await runFolders(workdir)
  const events = await readFile(join(run!, 'events.jsonl'), 'utf8')
  const worktree = join(workdir, 'worktrees', 'modern', 'src', 'k8s.io', 'kubernetes')
  assert.match(events, `"kind build node-image ${worktree} --type source --image kspawn/kind-node:v1.36.1-denyattach"`)
  const kubeconfig = join(workdir, 'kind', 'modern', 'kubeconfig')
  assert.match(events, `"kind create cluster --name modern --image kspawn/kind-node:v1.36.1-denyattach --config ${join(workdir, 'kind', 'modern', 'kind-config.yaml')} --kubeconfig ${kubeconfig} --wait 300s"`)
  const status = await must(['git', 'describe', '--tags', '--abbrev=14'], { cwd: worktree })
  const built = status.stdout.trim().replace(/-(\d+)-g([0-9a-f]{14})$/, '-$1+$2')
  assert.match(summaryOf(result.output, 'modern'), `the API server runs the build ${built}`)
  const version = await must(['kubectl', 'version', '-o', 'json'], { env: { KUBECONFIG: kubeconfig } })
  assert.is((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, built)

  // kind's view: its cluster, its nodes and labels; the kube-spawn cluster is none of kind's.
  assert.equal(await kindClusters(), ['modern'])
  assert.equal(await nodeContainers('modern'), ['modern-control-plane', 'modern-worker'])
  const nodes = await must(['kind', 'get', 'nodes', '--name', 'modern'])
  assert.equal(nodes.stdout.split('\n').filter(Boolean).sort(), ['modern-control-plane', 'modern-worker'])
  const listed = await kspawn(home, ['clusters', '--config', config])
  assert.is(listed.exitCode, 0, listed.output)
  assert.match(listed.stdout, /^  modern +modern +kind +v1\.36\.1-denyattach +2 +running$/m)
  assert.match(listed.stdout, /^  article +article +kube-spawn +v1\.8\.5-beta\.0-denyattach +2 +running$/m)

  // Run again with nothing changed: no new node image, the same cluster, the smoke tests again.
  const again = await kspawn(home, ['run', 'dev-loop', '--config', config, '--variant', 'modern'])
  assert.is(again.exitCode, 0, again.output.slice(-4000))
  assert.match(again.stdout, /Build the node image kspawn\/kind-node:v1\.36\.1-denyattach \(modern\) \[SKIPPED: already built: kspawn\/kind-node:v1\.36\.1-denyattach is [0-9a-f]{12} \(clean tree\) with the same kind, base image and flags, gitVersion v1\.36\.1-1\+[0-9a-f]{14}; remove \S+kspawn-node-image\.json to build again\]\n/)
  assert.match(again.stdout, /cluster-up \(modern\): cluster modern is up on this very build \(made by run \S+\): reusing it; --recreate makes it anew\n/)
  assert.not.match(again.stdout, /\$ kind (build|create|delete) /)
  assert.match(summaryOf(again.output, 'modern'), deniedWith(denied))
})

test('a node image named by a variant is pulled and used, nothing compiled; a plugin compiled in but not enabled is named as such', async () => {
  // The image of the previous run, shared as a teammate would: pushed to the registry, gone from this engine.
  await must(['docker', 'tag', 'kspawn/kind-node:v1.36.1-denyattach', registryImage])
  await must(['docker', 'push', registryImage])
  await must(['docker', 'rmi', registryImage])
  const config = await writeConfig('pulled.config.ts', [
    `pulled: { image: ${JSON.stringify(registryImage)}, deployer: kind({ admissionPlugins: ['DenyAttach'] }), smoke: [admission.denies('attach', { plugin: 'DenyAttach', message: ${JSON.stringify(denied)} })] }`,
    `notenabled: { image: ${JSON.stringify(registryImage)}, deployer: kind(), smoke: [admission.denies('attach', { plugin: 'DenyAttach', message: ${JSON.stringify(denied)} })] }`,
  ])
  const before = await runFolders(workdir)
  const result = await kspawn(home, ['run', 'dev-loop', '--config', config])
  assert.is(result.exitCode, 1, result.output.slice(-6000))
  assert.match(result.output, '1 of 2 variants passed')
  assert.match(summaryOf(result.output, 'pulled'), deniedWith(denied))
  const notEnabled = summaryOf(result.output, 'notenabled')
  assert.match(notEnabled, /attach was allowed \(the pod's output came through: "[^"]+"\)/)
  assert.match(
    notEnabled,
    `DenyAttach is compiled into the API server (kube-apiserver --help lists it) but not among its enabled admission plugins (--enable-admission-plugins=NodeRestriction); enable it in ${join(home, 'pulled.config.ts')}: give variant notenabled's kind deployer admissionPlugins: ['DenyAttach'], e.g. kind({ admissionPlugins: ['DenyAttach'] }), then run it again (the cluster, made with other settings, is replaced)`,
  )

  // Nothing was compiled: the run pulled the image and ran no build.
  const run = await newRun(workdir, before)
  const events = await readFile(join(run, 'events.jsonl'), 'utf8')
  assert.match(events, `"docker pull ${registryImage}"`)
  assert.not.match(events, /kind build node-image|quick-release-images|build\/run\.sh/)
  assert.equal(await nodeContainers('pulled', 'notenabled'), ['notenabled-control-plane', 'notenabled-worker', 'pulled-control-plane', 'pulled-worker'])
})

test("kspawn down --all leaves no node container, kubeconfig or record of kspawn's clusters, and leaves a kind cluster of the user's alone", async () => {
  const config = join(home, 'kspawn.config.ts')
  // A cluster the user made with kind, not kspawn.
  const foreignKubeconfig = join(home, 'foreign.kubeconfig')
  await must(['kind', 'create', 'cluster', '--name', 'foreign', '--image', 'kspawn/kind-node:v1.36.1-denyattach', '--kubeconfig', foreignKubeconfig])
  const before = await kspawn(home, ['clusters', '--config', config])
  assert.match(before.stdout, /\nNot made by kspawn, among kind's clusters \(kspawn down leaves them alone unless --force\):\n  CLUSTER +TAG +NODES +STATE\n  foreign +/)

  const result = await kspawn(home, ['down', '--all', '--config', config])
  assert.is(result.exitCode, 0, result.output)
  assert.equal(await nodeContainers('modern', 'pulled', 'notenabled'), [])
  assert.equal(await kindClusters(), ['foreign'])
  assert.equal(await nodeContainers('foreign'), ['foreign-control-plane'])
  for (const cluster of ['modern', 'pulled', 'notenabled']) {
    assert.not.ok(existsSync(join(workdir, 'kind', cluster)), `${join(workdir, 'kind', cluster)} is left`)
    assert.not.ok(existsSync(join(workdir, 'clusters', `${cluster}.json`)), `the record of ${cluster} is left`)
    assert.equal(await processesWith(join(world().KSPAWN_WORLD_STATE, 'kind', cluster, 'apiserver-spec.json')), [])
  }
  assert.not.ok(existsSync(join(workdir, 'clusters', 'article.json')), 'the record of article is left')
  const listed = await kspawn(home, ['clusters', '--config', config])
  assert.not.match(listed.stdout, /^  (modern|pulled|notenabled|article) /m)

  // Asked by name with --force, kspawn removes it through kind.
  const forced = await kspawn(home, ['down', 'foreign', '--force', '--config', config])
  assert.is(forced.exitCode, 0, forced.output)
  assert.equal(await kindClusters(), [])
  assert.equal(await nodeContainers('foreign'), [])
})

test('Ctrl-C during kind create cluster leaves no node container, and says so', async () => {
  const config = await writeConfig('stopped.config.ts', [`stopped: { image: ${JSON.stringify(registryImage)}, deployer: kind({ workers: 2 }), smoke: [] }`])
  const before = await runFolders(workdir)
  const running = startKspawn(home, ['run', 'dev-loop', '--config', config])
  await running.prints('$ kind create cluster --name stopped')
  const run = await newRun(workdir, before)
  // Once kind has started making nodes.
  for (let i = 0; i < 600 && (await nodeContainers('stopped')).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
  assert.ok((await nodeContainers('stopped')).length > 0, `kind made no node in 60 s:\n${running.output().slice(-3000)}`)
  process.kill(running.pid, 'SIGINT')
  const code = await running.exited
  assert.is(code, 130, running.output().slice(-4000))
  assert.equal(await nodeContainers('stopped'), [], running.output().slice(-4000))
  assert.not.ok((await kindClusters()).includes('stopped'))
  assert.equal(await processesWith(join(world().KSPAWN_WORLD_STATE, 'kind', 'stopped', 'apiserver-spec.json')), [])
  const state = JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as { status: string }
  assert.is(state.status, 'interrupted')
  assert.not.ok(existsSync(join(workdir, 'clusters', 'stopped.json')), 'a record of the removed cluster is left')
})

test.run()
