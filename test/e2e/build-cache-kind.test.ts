// The build cache on kind, end to end in the test world: a tree built once is
// built nowhere else. Machine A builds the fork's v1.36.1 DenyAttach branch
// and pushes its node image to the world's registry; another workdir on the
// same engine reuses it; "machine B" (the same engine with every local copy
// removed, a checkout and workdir of its own) pulls it and runs its cluster
// on it; an entry whose label lies about what it holds is rejected, rebuilt
// and replaced in the registry.
//
// Each test run builds a branch of its own (one commit on top of the DenyAttach
// branch), so that its key is new both to the engine and to the registry, and
// keeps its entries under a repository of its own: reruns start cold. The
// runner turns the cache off for every suite (KSPAWN_NO_CACHE=1); the runs
// here turn it on again.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { messages, must, sh, world, type Result } from '../world/harness.ts'
import { MODERN_BRANCHES } from '../world/fixture/generate.ts'
import { deniedWith, kspawn, newRun, runFolders, summaryOf } from './project.ts'

const test = suite('the build cache on kind')

/** One user's folder: its own checkout clone, workdir and config, one variant building the test's branch on kind. */
interface Machine {
  home: string
  config: string
  workdir: string
  /** The variant's name, also its cluster's. */
  variant: string
  tag: string
  image: string
  kubeconfig: string
  worktree: string
}

const suffix = `${process.pid}-${Date.now()}`
/** The cache's repository in the world's registry, new to each test run. */
const repository = `kspawn-cache-kind-${suffix}`
const branch = `e2e-cache-kind-${suffix}`
const denied = messages.denyattach
const cacheOn = { KSPAWN_NO_CACHE: '' }

let root: string
let pusher: string
const machines: Machine[] = []

/** Found by the first test, used by the others. */
let key: string | undefined
let runA: string | undefined
let gitVersionA: string | undefined

const registry = () => `${world().KSPAWN_WORLD_REGISTRY}/${repository}`
const remoteRef = (k: string) => `${registry()}/kind-node:${k}`
const localRef = (k: string) => `kspawn-cache/kind-node:${k}`
/** How kspawn's messages name an entry: its key cut to 12 digits. */
const short = (ref: string) => `${ref.slice(0, -52)}…`

const tail = (result: Result) => `\n--- output (tail) ---\n${result.output.slice(-6000)}`

async function makeMachine(name: string, variant: string): Promise<Machine> {
  const home = join(root, name)
  await mkdir(home, { recursive: true })
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, join(home, 'kubernetes')])
  const workdir = join(home, 'work')
  const tag = `v1.36.1-${variant}`
  const config = join(home, 'kspawn.config.ts')
  await writeFile(
    config,
    [
      `import { defineConfig } from 'kspawn'`,
      `import { admission } from 'kspawn/plugins/admission'`,
      `import { kind } from 'kspawn/plugins/kind'`,
      `export default defineConfig({`,
      `  kubernetes: { checkout: './kubernetes' },`,
      `  workdir: ${JSON.stringify(workdir)},`,
      `  deployer: kind({ admissionPlugins: ['DenyAttach'] }),`,
      `  cache: { registry: ${JSON.stringify(registry())} },`,
      `  variants: {`,
      `    ${variant}: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branch)} }, tag: ${JSON.stringify(tag)}, smoke: [admission.denies('attach', { plugin: 'DenyAttach', message: ${JSON.stringify(denied)} })] },`,
      `  },`,
      `})`,
      '',
    ].join('\n'),
  )
  const machine: Machine = {
    home,
    config,
    workdir,
    variant,
    tag,
    image: `kspawn/kind-node:${tag}`,
    kubeconfig: join(workdir, 'kind', variant, 'kubeconfig'),
    worktree: join(workdir, 'worktrees', variant, 'src', 'k8s.io', 'kubernetes'),
  }
  machines.push(machine)
  return machine
}

/** `kspawn run dev-loop` in the machine's folder with the cache on: its result, run folder, events and node-image step log. */
async function devLoop(machine: Machine): Promise<{ result: Result; run: string; runId: string; events: string; nodeImageLog: string }> {
  const before = await runFolders(machine.workdir)
  const result = await kspawn(machine.home, ['run', 'dev-loop', '--config', machine.config], cacheOn)
  const run = await newRun(machine.workdir, before)
  const events = await readFile(join(run, 'events.jsonl'), 'utf8').catch(() => '')
  const nodeImageLog = await readFile(join(run, machine.variant, 'node-image.log'), 'utf8').catch(() => '')
  return { result, run, runId: basename(run), events, nodeImageLog }
}

/** The commands a run started, as its events.jsonl records them. */
function commandsOf(events: string): string[] {
  return events
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; commandLine?: string })
    .filter((event) => event.kind === 'cmd' && event.commandLine !== undefined)
    .map((event) => event.commandLine!)
}

/** The registry's own answer: the tags of the cache's kind-node repository. */
async function registryTags(): Promise<string[]> {
  const response = await fetch(`http://${world().KSPAWN_WORLD_REGISTRY}/v2/${repository}/kind-node/tags/list`)
  if (response.status === 404) return []
  if (!response.ok) throw new Error(`the registry answered ${response.status} to tags/list of ${repository}/kind-node: ${await response.text()}`)
  return ((await response.json()) as { tags?: string[] | null }).tags ?? []
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ')

interface Manifest {
  mediaType?: string
  config?: { digest: string }
  manifests?: { digest: string; platform?: { os?: string } }[]
}

async function registryGet(path: string, accept?: string): Promise<Response> {
  const response = await fetch(`http://${world().KSPAWN_WORLD_REGISTRY}/v2/${path}`, accept ? { headers: { Accept: accept } } : {})
  if (!response.ok) throw new Error(`the registry answered ${response.status} to GET /v2/${path}: ${await response.text()}`)
  return response
}

/** The labels of the image the registry holds under a tag, read from its manifest and config blob (no docker pull). */
async function registryLabels(tag: string): Promise<{ digest: string; labels: Record<string, string> }> {
  const name = `${repository}/kind-node`
  const response = await registryGet(`${name}/manifests/${tag}`, MANIFEST_TYPES)
  const digest = response.headers.get('docker-content-digest') ?? ''
  let manifest = (await response.json()) as Manifest
  if (manifest.manifests) {
    // An index: the image's own manifest, not an attestation's (platform unknown/unknown).
    const image = manifest.manifests.find((entry) => entry.platform?.os !== 'unknown') ?? manifest.manifests[0]
    if (!image) throw new Error(`the registry's index of ${name}:${tag} lists no manifest`)
    manifest = (await (await registryGet(`${name}/manifests/${image.digest}`, MANIFEST_TYPES)).json()) as Manifest
  }
  if (!manifest.config) throw new Error(`the registry's manifest of ${name}:${tag} has no config: ${JSON.stringify(manifest)}`)
  const config = (await (await registryGet(`${name}/blobs/${manifest.config.digest}`)).json()) as { config?: { Labels?: Record<string, string> | null } }
  return { digest, labels: config.config?.Labels ?? {} }
}

/** An image's labels in the world's engine, or undefined when it has no such image. */
async function localLabels(image: string): Promise<Record<string, string> | undefined> {
  const inspected = await sh(['docker', 'image', 'inspect', '--format', '{{json .Config.Labels}}', image])
  if (inspected.exitCode !== 0) return undefined
  return (JSON.parse(inspected.stdout) as Record<string, string> | null) ?? {}
}

/** The images in the engine labelled with the key, whatever their tags. */
async function imagesOfKey(k: string): Promise<string[]> {
  const listed = await must(['docker', 'images', '--all', '--filter', `label=io.kspawn.build-key=${k}`, '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'])
  return listed.stdout.split('\n').filter(Boolean)
}

/** What `kubectl version` says the machine's cluster runs. */
async function serverGitVersion(machine: Machine): Promise<string> {
  const version = await must(['kubectl', 'version', '-o', 'json'], { env: { KUBECONFIG: machine.kubeconfig } })
  return (JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion
}

/** `kspawn down <cluster>`, as the user of that folder would; it must succeed. */
async function down(machine: Machine): Promise<void> {
  const result = await kspawn(machine.home, ['down', machine.variant, '--config', machine.config])
  assert.is(result.exitCode, 0, `kspawn down ${machine.variant} failed${tail(result)}`)
}

/** Removes tags from the engine; each must have been there. */
async function removeImages(images: string[]): Promise<void> {
  const removed = await sh(['docker', 'image', 'rm', ...images])
  assert.is(removed.exitCode, 0, `docker image rm ${images.join(' ')} failed:\n${removed.output}`)
}

/**
 * Every local copy of the key's build gone, as on a machine that never had it:
 * the tags named, then any image still labelled with the key (an image pulled
 * or pushed keeps a digest reference, <registry>/<repository>@sha256:..., once
 * its tag moved to another image).
 */
async function removeLocalCopies(k: string, tags: string[]): Promise<void> {
  await removeImages(tags)
  await removeImagesOfKey(k)
  assert.equal(await imagesOfKey(k), [], 'the engine still holds an image of the key')
}

async function removeImagesOfKey(k: string): Promise<void> {
  const ids = new Set((await must(['docker', 'images', '--all', '--quiet', '--filter', `label=io.kspawn.build-key=${k}`])).stdout.split('\n').filter(Boolean))
  if (ids.size > 0) await must(['docker', 'image', 'rm', '--force', ...ids])
}

test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'kspawn-cache-kind-'))
  // The test's own branch: the DenyAttach branch and one commit, a tree no earlier run has built.
  pusher = join(root, 'fork')
  await must(['git', 'clone', '--quiet', '--branch', MODERN_BRANCHES.denyattach, world().KSPAWN_WORLD_FORK, pusher])
  await writeFile(join(pusher, 'BUILD-CACHE-TEST.md'), `The tree of the build cache test ${suffix}.\n`)
  await must(['git', 'add', 'BUILD-CACHE-TEST.md'], { cwd: pusher })
  await must(['git', '-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', 'commit', '--quiet', '-m', 'a tree of its own for the build cache test'], { cwd: pusher })
  await must(['git', 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], { cwd: pusher })
})

test.after(async () => {
  for (const machine of machines) await kspawn(machine.home, ['down', '--all', '--config', machine.config])
  const images = machines.map((machine) => machine.image)
  if (key !== undefined) images.push(localRef(key), remoteRef(key))
  await sh(['docker', 'image', 'rm', '--force', ...images])
  if (key !== undefined) await removeImagesOfKey(key).catch(() => undefined)
  // The registry's entries (the world's registry allows deletes), then the test's branch of the fork.
  for (const tag of await registryTags().catch(() => [] as string[])) {
    const manifest = await fetch(`http://${world().KSPAWN_WORLD_REGISTRY}/v2/${repository}/kind-node/manifests/${tag}`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } }).catch(() => undefined)
    const digest = manifest?.headers.get('docker-content-digest')
    if (digest) await fetch(`http://${world().KSPAWN_WORLD_REGISTRY}/v2/${repository}/kind-node/manifests/${digest}`, { method: 'DELETE' }).catch(() => undefined)
  }
  await sh(['git', 'push', '--quiet', 'origin', '--delete', branch], { cwd: pusher })
  await rm(root, { recursive: true, force: true })
})

test('machine A: a cold run builds the node image, and pushes it to the registry under its key', async () => {
  const a = await makeMachine('machine-a', 'cachea')
  const { result, runId, events, nodeImageLog } = await devLoop(a)
  assert.is(result.exitCode, 0, `machine A's run failed${tail(result)}`)
  const summary = summaryOf(result.output, a.variant)
  assert.match(summary, `build: built in this run (${runId})`, `the summary does not say it built the tree in run ${runId}:\n${summary}`)
  assert.match(summary, deniedWith(denied), summary)

  // The build ran: kind build node-image, in the step's log and among the run's commands.
  const build = `kind build node-image ${a.worktree} --type source --image ${a.image}`
  assert.ok(nodeImageLog.includes(`$ ${build}\n`), `the node-image step's log has no "$ ${build}":\n${nodeImageLog.slice(-3000)}`)
  assert.ok(commandsOf(events).includes(build), `events.jsonl records no "${build}"${tail(result)}`)

  // The build the cluster runs is the branch's, as git describes the worktree.
  const described = (await must(['git', 'describe', '--tags', '--abbrev=14'], { cwd: a.worktree })).stdout.trim()
  const built = described.replace(/-(\d+)-g([0-9a-f]{14})$/, '-$1+$2')
  assert.match(summary, `the API server runs the build ${built}`, summary)
  assert.is(await serverGitVersion(a), built)

  // The registry itself holds one entry, under a 64-digit key, labelled with that key and the build's gitVersion.
  const tags = await registryTags()
  assert.is(tags.length, 1, `the registry's ${repository}/kind-node should hold one entry, it holds ${JSON.stringify(tags)}${tail(result)}`)
  const found = tags[0]!
  assert.match(found, /^[0-9a-f]{64}$/, `the entry's tag is not a key: ${found}`)
  assert.match(result.output, `pushed the build to the cache: ${remoteRef(found)}`, `the run does not say it pushed ${remoteRef(found)}${tail(result)}`)
  const { labels } = await registryLabels(found)
  assert.is(labels['io.kspawn.build-key'], found, JSON.stringify(labels))
  assert.is(labels['io.kspawn.git-version'], built, JSON.stringify(labels))
  assert.is(labels['io.kspawn.built-by'], `run ${runId}, variant ${a.variant}`, JSON.stringify(labels))
  // And the engine: the cluster's image is the labelled entry.
  assert.equal(await localLabels(a.image), labels, `the engine's ${a.image} is not the entry pushed`)
  assert.equal(await localLabels(localRef(found)), labels, `the engine has no entry ${localRef(found)}`)

  key = found
  runA = runId
  gitVersionA = built
})

test('the same machine, another workdir, the same branch: the build of machine A is reused, nothing is built', async () => {
  assert.ok(key && runA && gitVersionA, 'machine A left no cache entry (see the test before)')
  const b = await makeMachine('other-workdir', 'cacheb')
  const { result, events, nodeImageLog } = await devLoop(b)
  assert.is(result.exitCode, 0, `the run in another workdir failed${tail(result)}`)
  const summary = summaryOf(result.output, b.variant)
  assert.match(summary, `build: reused the build of run ${runA}, variant cachea (${short(localRef(key))})`, `the summary does not say it reused machine A's build:\n${summary}`)
  assert.match(summary, `the API server runs the build ${gitVersionA}`, summary)
  assert.match(summary, deniedWith(denied), summary)

  // Nothing built, nothing pulled: the engine's entry was enough.
  assert.not.ok(nodeImageLog.includes('kind build node-image'), `the node-image step ran kind build node-image:\n${nodeImageLog.slice(-3000)}`)
  const commands = commandsOf(events)
  assert.equal(commands.filter((command) => /^kind build |quick-release-images|^docker (pull|push) /.test(command)), [], `the run built, pulled or pushed${tail(result)}`)
  assert.ok(commands.includes(`docker tag ${localRef(key)} ${b.image}`), `the run did not tag the entry as ${b.image}${tail(result)}`)
  assert.equal(await registryTags(), [key], 'the registry should still hold the one entry of machine A')
  assert.is(await serverGitVersion(b), gitVersionA)
})

test('machine B, with no local copy of the build: it is pulled from the registry, nothing is built, the cluster runs it', async () => {
  assert.ok(key && runA && gitVersionA, 'machine A left no cache entry (see the first test)')
  const [a, b] = machines
  assert.ok(a && b, 'the earlier tests made no machine A and other workdir')
  // What machine A and the other workdir had in the engine: their clusters, the entry under both its tags, their node images.
  await down(a)
  await down(b)
  await removeLocalCopies(key, [localRef(key), remoteRef(key), a.image, b.image])

  const c = await makeMachine('machine-b', 'cachec')
  const { result, events, nodeImageLog } = await devLoop(c)
  assert.is(result.exitCode, 0, `machine B's run failed${tail(result)}`)
  const summary = summaryOf(result.output, c.variant)
  assert.match(summary, `build: pulled from the cache ${short(remoteRef(key))} (built by run ${runA}, variant cachea)`, `the summary does not say it pulled machine A's build:\n${summary}`)

  assert.not.ok(nodeImageLog.includes('kind build node-image'), `the node-image step ran kind build node-image:\n${nodeImageLog.slice(-3000)}`)
  const commands = commandsOf(events)
  assert.equal(commands.filter((command) => /^kind build |quick-release-images|print-workspace-status/.test(command)), [], `machine B built something${tail(result)}`)
  assert.ok(commands.includes(`docker pull ${remoteRef(key)}`), `machine B did not pull ${remoteRef(key)}${tail(result)}`)
  assert.not.ok(commands.some((command) => command.startsWith('docker push ')), `machine B pushed something${tail(result)}`)

  // The smoke tests passed against a cluster of the pulled image, which runs machine A's build.
  assert.match(summary, `the API server runs the build ${gitVersionA}`, summary)
  assert.match(summary, deniedWith(denied), summary)
  assert.is(await serverGitVersion(c), gitVersionA)
  assert.is((await localLabels(c.image))?.['io.kspawn.build-key'], key, `${c.image} is not the entry pulled`)
  assert.match(events, `"kind create cluster --name ${c.variant} --image ${c.image} `)
})

test('a mislabelled entry in the registry is rejected with a warning, built again, and replaced by a good one', async () => {
  assert.ok(key && gitVersionA, 'machine A left no cache entry (see the first test)')
  const c = machines[2]
  assert.ok(c, 'the test before made no machine B')
  // Under the key, an image whose label claims a gitVersion other than the one its /kind/version holds.
  const wrong = 'v0.0.0-wrong'
  await must(['docker', 'build', '--label', `io.kspawn.build-key=${key}`, '--label', `io.kspawn.git-version=${wrong}`, '--tag', remoteRef(key), '-'], { input: `FROM ${localRef(key)}\n` })
  await must(['docker', 'push', remoteRef(key)])
  const planted = await registryLabels(key)
  assert.is(planted.labels['io.kspawn.git-version'], wrong, 'the mislabelled entry is not in the registry')
  const inside = (await must(['docker', 'run', '--rm', '--network', 'none', '--entrypoint', 'cat', remoteRef(key), '/kind/version'])).stdout.trim()
  assert.is(inside, gitVersionA, 'the mislabelled entry should hold the good build')

  await down(c)
  await removeLocalCopies(key, [localRef(key), remoteRef(key), c.image])

  const d = await makeMachine('mislabelled', 'cached')
  const { result, runId, events, nodeImageLog } = await devLoop(d)
  assert.is(result.exitCode, 0, `the run after a mislabelled entry failed${tail(result)}`)
  const warning = `the build cache's ${short(remoteRef(key))} is not the build of this tree (its label says gitVersion ${wrong}, but what it holds reports ${gitVersionA})`
  assert.ok(result.output.includes(warning), `no warning "${warning}"${tail(result)}`)
  const summary = summaryOf(result.output, d.variant)
  assert.match(summary, `build: built in this run (${runId})`, summary)
  const build = `kind build node-image ${d.worktree} --type source --image ${d.image}`
  assert.ok(nodeImageLog.includes(`$ ${build}\n`), `the node-image step's log has no "$ ${build}":\n${nodeImageLog.slice(-3000)}`)
  assert.ok(commandsOf(events).includes(`docker push ${remoteRef(key)}`), `the new build was not pushed${tail(result)}`)
  assert.match(summary, `the API server runs the build ${gitVersionA}`, summary)
  assert.match(summary, deniedWith(denied), summary)

  // The registry's entry is now the new build, labelled with what it holds.
  assert.equal(await registryTags(), [key])
  const replaced = await registryLabels(key)
  assert.is.not(replaced.digest, planted.digest, 'the registry still holds the mislabelled entry')
  assert.is(replaced.labels['io.kspawn.git-version'], gitVersionA, JSON.stringify(replaced.labels))
  assert.is(replaced.labels['io.kspawn.built-by'], `run ${runId}, variant ${d.variant}`, JSON.stringify(replaced.labels))
  // And a later pull gets it.
  await removeImages([remoteRef(key)])
  await must(['docker', 'pull', remoteRef(key)])
  assert.is((await localLabels(remoteRef(key)))?.['io.kspawn.git-version'], gitVersionA)
})

test.run()
