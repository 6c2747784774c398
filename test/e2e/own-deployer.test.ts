// A deployer of one's own (test/e2e/toy-deployer, written as docs/plugins.md
// tells a user to), registered in the config with `plugins: [...]` and run by
// `kspawn run dev-loop` beside a kube-spawn variant: kspawn runs each
// variant's own deployer's steps and brings each cluster up and down through
// its own deployer, with no change to engine/, tasks/ or cli/. What is
// asserted is what the world shows: containers, images, the API server's
// answer, files, and the commands in the run's events.
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, HYPERKUBE, messages, must, sh, world } from '../world/harness.ts'
import { clusterLeft, kspawn, nothingLeft, runFolders, summaryOf } from './project.ts'

const test = suite('a deployer of your own, beside kube-spawn')

const toyCluster = 'plugged'
const kubeSpawnCluster = 'beside'
const toyTag = 'v1.8.5-beta.0-own-toy'
const kubeSpawnTag = 'v1.8.5-beta.0-own-ks'
let home: string
let toyDir: string

interface Event {
  kind: string
  variant?: string
  step?: string
  commandLine?: string
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-own-'))
  toyDir = join(home, 'toy-clusters')
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  const toy = join(import.meta.dirname, 'toy-deployer')
  const source = `{ remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }`
  const config = [
    `import { defineConfig } from 'kspawn'`,
    `import { admission } from 'kspawn/plugins/admission'`,
    `import { kubeSpawn } from 'kspawn/plugins/kube-spawn'`,
    `import { toy } from ${JSON.stringify(join(toy, 'index.ts'))}`,
    `import { toyPlugin } from ${JSON.stringify(join(toy, 'plugin.ts'))}`,
    `export default defineConfig({`,
    `  kubernetes: { checkout: ${JSON.stringify(checkout)} },`,
    `  plugins: [toyPlugin],`,
    `  deployer: toy({ dir: ${JSON.stringify(toyDir)} }),`,
    `  variants: {`,
    `    plugged: { source: ${source}, tag: ${JSON.stringify(toyTag)}, smoke: [] },`,
    `    beside: {`,
    `      source: ${source}, tag: ${JSON.stringify(kubeSpawnTag)},`,
    `      deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)} }),`,
    `      smoke: [admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })],`,
    `    },`,
    `  },`,
    `})`,
    '',
  ]
  await writeFile(join(home, 'kspawn.config.ts'), config.join('\n'))
})

test.after(async () => {
  // Whatever a failed test left: the clusters through kspawn, then by hand.
  await kspawn(home, ['down', '--all'])
  await sh(['docker', 'rm', '--force', `toy-${toyCluster}`])
  await sh(['docker', 'rmi', '--force', `kspawn-toy/node:${toyTag}`, `${HYPERKUBE}:${kubeSpawnTag}`])
  await rm(home, { recursive: true, force: true })
})

test('kspawn run dev-loop runs each variant on its own deployer: the toy its node-image step, kube-spawn its build and hyperkube image', async () => {
  const result = await kspawn(home, ['run', 'dev-loop'])
  assert.is(result.exitCode, 0, result.output.slice(-5000))
  assert.match(result.stdout, 'dev-loop: 2 of 2 variants passed')

  const [run] = await runFolders(join(home, '.kspawn'))
  const state = JSON.parse(await readFile(join(run!, 'state.json'), 'utf8')) as {
    variants: { name: string; tasks: { id: string; status: string }[]; state: { gitVersion?: string; smoke?: { expectation: string; passed: boolean }[] } }[]
  }
  const steps = (name: string) => state.variants.find((variant) => variant.name === name)!.tasks.map((task) => `${task.id}:${task.status}`)
  assert.equal(steps(toyCluster), ['fetch-source:done', 'node-image:done', 'cluster-up:done', 'smoke-test:done'])
  assert.equal(steps(kubeSpawnCluster), ['fetch-source:done', 'build:done', 'image:done', 'use-image:skipped', 'cluster-up:done', 'smoke-test:done'])

  // The commands each variant ran, as the run's events recorded them.
  const events = (await readFile(join(run!, 'events.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Event)
  const commands = (variant: string) => events.filter((event) => event.kind === 'cmd' && event.variant === variant).map((event) => `${event.step}: ${event.commandLine}`)
  const toyCommands = commands(toyCluster)
  assert.ok(toyCommands.includes('node-image: build/run.sh make'), toyCommands.join('\n'))
  assert.ok(toyCommands.some((line) => line.startsWith(`node-image: docker build --quiet --tag kspawn-toy/node:${toyTag} `)), toyCommands.join('\n'))
  assert.ok(toyCommands.includes(`cluster-up: docker run --detach --network none --name toy-${toyCluster} --hostname toy-${toyCluster} --label io.kspawn.toy.cluster=${toyCluster} kspawn-toy/node:${toyTag} /usr/bin/kubelet`), toyCommands.join('\n'))
  assert.not.ok(toyCommands.some((line) => /kube-spawn|hyperkube/.test(line)), toyCommands.join('\n'))
  const kubeSpawnCommands = commands(kubeSpawnCluster)
  assert.ok(kubeSpawnCommands.includes(`image: make -C cluster/images/hyperkube VERSION=${kubeSpawnTag}`), kubeSpawnCommands.join('\n'))
  assert.ok(kubeSpawnCommands.some((line) => line.startsWith(`cluster-up: kube-spawn -d ${world().KSPAWN_WORLD_KUBE_SPAWN_DIR} create --dev -t ${kubeSpawnTag} -c ${kubeSpawnCluster}`)), kubeSpawnCommands.join('\n'))

  // The toy's cluster runs what the toy built: its machine runs, and its API server, asked by the real kubectl, says the build's version.
  const built = state.variants.find((variant) => variant.name === toyCluster)!.state.gitVersion
  assert.match(built ?? '', /^v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}$/)
  const running = await must(['docker', 'ps', '--filter', `label=io.kspawn.toy.cluster=${toyCluster}`, '--format', '{{.Names}} {{.Image}}'])
  assert.is(running.stdout.trim(), `toy-${toyCluster} kspawn-toy/node:${toyTag}`)
  const version = await must(['kubectl', 'version', '-o', 'json'], { env: { KUBECONFIG: join(toyDir, toyCluster, 'kubeconfig') } })
  assert.is((JSON.parse(version.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, built)
  const summary = summaryOf(result.stdout, toyCluster)
  assert.match(summary, `✔ the API server runs the build ${built}`)
  assert.match(summary, `control plane: kspawn-toy/node:${toyTag}, made by the toy's node-image step`)
  assert.match(summaryOf(result.stdout, kubeSpawnCluster), `control plane: ${HYPERKUBE}:${kubeSpawnTag}, made from the build of variant ${kubeSpawnCluster}`)

  // kspawn list shows each deployer's steps, and which variant runs on another deployer than the config's.
  const list = await kspawn(home, ['list'])
  assert.is(list.exitCode, 0, list.output)
  assert.match(list.stdout, '            fetch-source → [toy: node-image | kube-spawn: build → image → use-image] → cluster-up → smoke-test\n')
  assert.match(list.stdout, '  Steps of the deployer toy, for its variants:\n  node-image ')
  assert.match(list.stdout, `tag ${toyTag}, cluster ${toyCluster}\n`)
  assert.match(list.stdout, `tag ${kubeSpawnTag}, cluster ${kubeSpawnCluster} on kube-spawn\n`)
})

test('kspawn task runs a step of the variant\'s own deployer alone; a step of another deployer is not one of its tasks', async () => {
  const again = await kspawn(home, ['task', 'node-image', '--variant', toyCluster])
  assert.is(again.exitCode, 0, again.output.slice(-3000))
  assert.match(again.stdout, 'task-node-image: 1 of 1 variant passed')
  const wrong = await kspawn(home, ['task', 'image', '--variant', toyCluster])
  assert.is(wrong.exitCode, 2, wrong.output)
  assert.is(wrong.stderr, 'unknown task "image": the tasks are fetch-source, cluster-up, smoke-test, share-image, node-image (kspawn list shows them)\n')
})

test('kspawn clusters and kspawn down --all see and remove the clusters of both deployers', async () => {
  const listed = await kspawn(home, ['clusters'])
  assert.is(listed.exitCode, 0, listed.output)
  assert.match(listed.stdout, new RegExp(`^  ${toyCluster} +${toyCluster} +toy +${toyTag} +1 +running$`, 'm'))
  assert.match(listed.stdout, new RegExp(`^  ${kubeSpawnCluster} +${kubeSpawnCluster} +kube-spawn +${kubeSpawnTag} +2 +running$`, 'm'))

  // A config that no longer has the toy plugin cannot reach the toy's cluster, and says so instead of calling it gone.
  const withoutToy = join(home, 'without-toy.config.ts')
  const config = await readFile(join(home, 'kspawn.config.ts'), 'utf8')
  await writeFile(
    withoutToy,
    config
      .replace(/^import \{ toy(Plugin)? \}.*\n/gm, '')
      .replace('  plugins: [toyPlugin],\n', '')
      .replace(/  deployer: toy\(.*\n/, `  deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)} }),\n`)
      .replace(/^    plugged: .*\n/m, ''),
  )
  const unknown = await kspawn(home, ['clusters', '--config', withoutToy])
  assert.is(unknown.exitCode, 0, unknown.output)
  assert.match(unknown.stdout, new RegExp(`^  ${toyCluster} +${toyCluster} +toy +${toyTag} +- +unknown\n    made with the deployer "toy", which ${withoutToy} does not know \\(its deployers: kube-spawn, kind\\): add its plugin to the config to reach it$`, 'm'))
  const refused = await kspawn(home, ['down', toyCluster, '--config', withoutToy])
  assert.is(refused.exitCode, 1, refused.output)
  assert.match(refused.stderr, `cannot remove cluster ${toyCluster}: it was made with the deployer "toy", which ${withoutToy} does not know (its deployers: kube-spawn, kind)`)
  assert.match((await must(['docker', 'ps', '--format', '{{.Names}}'])).stdout, `toy-${toyCluster}\n`)

  const down = await kspawn(home, ['down', '--all'])
  assert.is(down.exitCode, 0, down.output)
  assert.match(down.stdout, `removed cluster ${toyCluster}\n`)
  assert.match(down.stdout, `removed cluster ${kubeSpawnCluster}\n`)
  assert.is((await must(['docker', 'ps', '--all', '--filter', `label=io.kspawn.toy.cluster=${toyCluster}`, '--format', '{{.Names}}'])).stdout.trim(), '')
  assert.not.ok(existsSync(join(toyDir, toyCluster)), 'the toy cluster folder is gone')
  assert.equal(await clusterLeft(kubeSpawnCluster, join(home, '.kspawn')), nothingLeft)
})

test.run()
