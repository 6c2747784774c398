// Benchmark: what the build cache saves, side by side in one run, on the
// kube-spawn deployer of the test world with one variant built from the
// denyattach branch and `cache: { registry }` pointing at the world's
// registry. Each round times, with the built CLI (`kspawn run dev-loop`):
//
//   cold              a fresh folder (checkout clone, workdir), nothing in the
//                     engine's cache, a registry repository nobody used: it
//                     builds, makes the image, keeps and pushes the entry
//   rerun             the same folder again, nothing changed, the cluster up
//   rerun after down  the same folder after `kspawn down <cluster>` (untimed)
//   second machine    the first folder's cluster down, every local copy of
//                     its build removed (cache tags, the registry's tag, the
//                     variant's hyperkube image), a fresh folder of its own:
//                     it should pull the entry and build nothing
//   cold --no-cache   a fresh folder, --no-cache: the loop as before the cache
//
// The issue's goal: "the cache hit skips every build step; its wall time is
// cluster-up plus smoke test plus the pull". For the second machine the step
// durations of its state.json and the pull's own duration (events.jsonl) are
// set against its wall time, and its build log must hold no build/run.sh make.
//
//   npm run world:up && npm run bench:build-cache [-- rounds]     (default 3)
//
// Builds dist/ first (npm run build). The cold and --no-cache cases take turns
// at going first. Teardown is not timed. Medians are printed as a markdown
// table and recorded in bench/RESULTS.md. Removing the cache's entries from the
// engine between rounds concerns the world's private engine only.
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunRecord } from '../engine/run/run-state.ts'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world } from '../test/world/harness.ts'
import { repoDir } from '../test/world/state.ts'
import { median, recordResult } from './results.ts'

const rounds = Number(process.argv[2] ?? 3)
const cluster = 'bcache'
const tag = 'v1.8.5-beta.0-bcache'
const image = `${HYPERKUBE}:${tag}`
const bin = join(repoDir, 'dist', 'bin', 'kspawn.js')
/** The cache on, whatever the shell that started the benchmark says. */
const cacheOn = { KSPAWN_NO_CACHE: '' }

const cases = ['cold', 'rerun', 'rerun after down', 'second machine', 'cold --no-cache'] as const
type Case = (typeof cases)[number]

/** One timed `kspawn run dev-loop`: its wall time and what its run folder recorded. */
interface Measured {
  seconds: number
  record: RunRecord
  /** Durations of the variant's steps, in seconds; 0 for a step skipped. */
  steps: Record<string, number>
  /** Seconds of the build step's docker pull, and of its docker build and docker push (keeping the entry). */
  pull: number
  keep: number
  /** The commands the run started. */
  commands: string[]
  /** The build step's log, where a build would show as `$ build/run.sh make`. */
  buildLog: string
  /** What the summary's `build:` line says. */
  built: string
  /** Seconds from starting the CLI to its run-start event (node, config, plugins, checks), and from its run-end event to its exit. */
  start: number
  end: number
}

interface Folder {
  home: string
  config: string
  workdir: string
  worktree: string
}

async function folder(registry: string): Promise<Folder> {
  const home = await mkdtemp(join(tmpdir(), 'kspawn-bench-cache-'))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  const workdir = join(home, 'work')
  const config = join(home, 'kspawn.config.ts')
  await writeFile(
    config,
    `import { defineConfig } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kubeSpawn } from 'kspawn/plugins/kube-spawn'
export default defineConfig({
  kubernetes: { checkout: ${JSON.stringify(checkout)} },
  workdir: ${JSON.stringify(workdir)},
  deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)} }),
  cache: { registry: ${JSON.stringify(registry)} },
  variants: {
    ${cluster}: {
      source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} },
      tag: ${JSON.stringify(tag)},
      smoke: [admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })],
    },
  },
})
`,
  )
  return { home, config, workdir, worktree: join(workdir, 'worktrees', cluster, 'src', 'k8s.io', 'kubernetes') }
}

function runsIn(workdir: string): Promise<string[]> {
  return readdir(join(workdir, 'runs')).catch(() => [] as string[])
}

async function runFolder(workdir: string, before: string[]): Promise<string> {
  const made = (await runsIn(workdir)).filter((name) => !before.includes(name)).sort()
  if (made.length !== 1) throw new Error(`expected one new run folder in ${join(workdir, 'runs')}, found ${JSON.stringify(made)}`)
  return join(workdir, 'runs', made[0]!)
}

/** `kspawn run dev-loop` in the folder, timed to its end; it must pass. */
async function devLoop(where: Folder, extra: string[] = []): Promise<Measured> {
  const before = await runsIn(where.workdir)
  const startedAt = Date.now()
  const start = process.hrtime.bigint()
  const result = await sh(['node', bin, 'run', 'dev-loop', '--config', where.config, '--renderer', 'silent', ...extra], { cwd: where.home, env: { CI: 'true', NO_COLOR: '1', ...cacheOn } })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const endedAt = startedAt + seconds * 1000
  if (result.exitCode !== 0) throw new Error(`kspawn run dev-loop ${extra.join(' ')} in ${where.home} exited with ${result.exitCode}\n${result.output.slice(-3000)}`)
  const run = await runFolder(where.workdir, before)
  const record = JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
  const variant = record.variants.find((entry) => entry.name === cluster)
  if (!variant) throw new Error(`${run}/state.json has no variant ${cluster}`)
  const steps = Object.fromEntries(variant.tasks.map((task) => [task.id, (task.durationMs ?? 0) / 1000]))
  const events = (await readFile(join(run, 'events.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { kind: string; time: string; commandLine?: string; durationMs?: number })
  const at = (kind: string) => Date.parse(events.find((event) => event.kind === kind)?.time ?? '')
  const ended = (prefix: string) => events.filter((event) => event.kind === 'end' && event.commandLine?.startsWith(prefix)).reduce((sum, event) => sum + (event.durationMs ?? 0) / 1000, 0)
  return {
    seconds,
    record,
    steps,
    pull: ended('docker pull '),
    keep: ended('docker build ') + ended('docker push '),
    commands: events.filter((event) => event.kind === 'cmd').map((event) => event.commandLine ?? ''),
    buildLog: await readFile(join(run, cluster, 'build.log'), 'utf8').catch(() => ''),
    built: variant.state.built ?? '',
    start: (at('run-start') - startedAt) / 1000,
    end: (endedAt - at('run-end')) / 1000,
  }
}

async function down(where: Folder): Promise<void> {
  await must(['node', bin, 'down', cluster, '--config', where.config], { cwd: where.home, env: { CI: 'true', NO_COLOR: '1' } })
}

/** Every cache entry in the world's engine (whatever its tags: a pushed or pulled image keeps a digest reference), and the variant's image. */
async function removeLocalBuilds(): Promise<void> {
  const ids = new Set((await must(['docker', 'images', '--all', '--quiet', '--filter', 'label=io.kspawn.build-key'])).stdout.split('\n').filter(Boolean))
  if (ids.size > 0) await must(['docker', 'image', 'rm', '--force', ...ids])
  await sh(['docker', 'image', 'rm', '--force', image])
}

/** The cluster, whoever made it, and every local build. */
async function clean(): Promise<void> {
  await kubeSpawn(['stop', '-c', cluster])
  await kubeSpawn(['destroy', '-c', cluster])
  await removeLocalBuilds()
}

/** The registry's manifests under the repository (the world's registry allows deletes). */
async function emptyRegistry(repository: string): Promise<void> {
  const base = `http://${world().KSPAWN_WORLD_REGISTRY}/v2/${repository}/hyperkube-amd64`
  const accept = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json'].join(', ')
  const listed = await fetch(`${base}/tags/list`).catch(() => undefined)
  const tags = listed?.ok ? (((await listed.json()) as { tags?: string[] | null }).tags ?? []) : []
  for (const name of tags) {
    const head = await fetch(`${base}/manifests/${name}`, { method: 'HEAD', headers: { Accept: accept } }).catch(() => undefined)
    const digest = head?.headers.get('docker-content-digest')
    if (digest) await fetch(`${base}/manifests/${digest}`, { method: 'DELETE' }).catch(() => undefined)
  }
}

const has = (commands: string[], prefix: string) => commands.some((command) => command.startsWith(prefix))

/** What a case did, from its commands and steps, checked against what it should have done. */
function check(name: Case, measured: Measured): void {
  const built = has(measured.commands, 'build/run.sh make')
  const problem = (() => {
    switch (name) {
      case 'cold':
        return built && measured.built.startsWith('built in this run') && has(measured.commands, 'docker push ') ? undefined : 'it should have built and pushed'
      case 'cold --no-cache':
        return built && !has(measured.commands, 'docker pull ') && !has(measured.commands, 'docker push ') ? undefined : 'it should have built, and neither pulled nor pushed'
      case 'rerun':
      case 'rerun after down':
        return !built && !has(measured.commands, 'docker pull ') ? undefined : 'it should have built and pulled nothing'
      case 'second machine':
        return !built && !measured.buildLog.includes('$ build/run.sh make') && !has(measured.commands, 'make -C cluster/images/hyperkube') && measured.built.startsWith('pulled from the cache')
          ? undefined
          : 'it should have pulled the build and built nothing'
    }
  })()
  if (problem) throw new Error(`${name}: ${problem}; its build line says "${measured.built}", its commands were:\n  ${measured.commands.join('\n  ')}`)
}

async function round(index: number): Promise<Record<Case, Measured>> {
  const repository = `kspawn-cache-bench-${process.pid}-${Date.now()}-${index}`
  const registry = `${world().KSPAWN_WORLD_REGISTRY}/${repository}`
  const homes: string[] = []
  const fresh = async () => {
    const made = await folder(registry)
    homes.push(made.home)
    return made
  }
  const by: Partial<Record<Case, Measured>> = {}
  const measure = async (name: Case, run: () => Promise<Measured>) => {
    by[name] = await run()
    check(name, by[name]!)
  }
  const noCache = async () => {
    await clean()
    await measure('cold --no-cache', async () => devLoop(await fresh(), ['--no-cache']))
  }
  const withCache = async () => {
    await clean()
    const first = await fresh()
    await measure('cold', () => devLoop(first))
    await measure('rerun', () => devLoop(first))
    await down(first)
    await measure('rerun after down', () => devLoop(first))
    // Machine A's cluster and every local copy of its build gone; the registry keeps the entry.
    await down(first)
    await removeLocalBuilds()
    const second = await fresh()
    await measure('second machine', () => devLoop(second))
    await down(second)
  }
  try {
    if (index % 2 === 0) {
      await withCache()
      await noCache()
    } else {
      await noCache()
      await withCache()
    }
  } finally {
    await clean()
    await emptyRegistry(repository)
    for (const home of homes) await rm(home, { recursive: true, force: true })
  }
  return by as Record<Case, Measured>
}

const s = (seconds: number) => seconds.toFixed(1)

/** What the runs of a case did, in words, from the first of them (they all passed the same check). */
function didWhat(name: Case, measured: Measured): string {
  const status = (id: string) => measured.record.variants[0]?.tasks.find((task) => task.id === id)
  const clusterUp = status('cluster-up')
  const made = measured.commands.some((command) => /kube-spawn .* create /.test(command))
  const reused = clusterUp?.status === 'done' && !made ? 'reused the cluster' : 'made the cluster'
  switch (name) {
    case 'cold':
      return 'built, made the image, kept the entry and pushed it, made the cluster'
    case 'cold --no-cache':
      return 'built, made the image, made the cluster; no lookup, nothing kept'
    case 'rerun':
    case 'rerun after down': {
      const skipped = ['build', 'image'].every((id) => status(id)?.status === 'skipped')
      const cached = measured.commands.some((command) => command.includes(' kspawn-cache/'))
      return `${skipped ? "build and image skipped (the worktree's stamps)" : 'build or image ran'}${cached ? ', the cache looked up' : ', no cache lookup'}, ${reused}`
    }
    case 'second machine':
      return 'pulled the entry, restored the binaries, image skipped, made the cluster'
  }
}

async function main(): Promise<void> {
  world()
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: repoDir, stdio: ['ignore', 'ignore', 'inherit'] })
  const all: Record<Case, Measured[]> = Object.fromEntries(cases.map((name) => [name, []])) as unknown as Record<Case, Measured[]>
  const load = [loadavg()[0]!]
  for (let i = 0; i < rounds; i++) {
    const measured = await round(i)
    for (const name of cases) all[name].push(measured[name])
    load.push(loadavg()[0]!)
    process.stdout.write(`round ${i + 1}: ${cases.map((name) => `${name} ${s(measured[name].seconds)} s`).join(', ')}\n`)
  }
  const med = (name: Case, pick: (m: Measured) => number = (m) => m.seconds) => median(all[name].map(pick))
  const cold = med('cold')
  // The load of the shared machine moves every case of a round alike: a ratio within a round is steadier than one of medians.
  const ratios = (name: Case) => all[name].map((m, i) => m.seconds / all.cold[i]!.seconds)
  const table = [
    '| case | what it did | runs (s) | median (s) | median / cold | median of the ratios to cold within a round (range) |',
    '|---|---|---|---|---|---|',
    ...cases.map(
      (name) =>
        `| ${name} | ${didWhat(name, all[name][0]!)} | ${all[name].map((m) => s(m.seconds)).join(', ')} | ${s(med(name))} | ${(med(name) / cold).toFixed(2)}x | ${median(ratios(name)).toFixed(2)}x (${Math.min(...ratios(name)).toFixed(2)}-${Math.max(...ratios(name)).toFixed(2)}) |`,
    ),
  ]
  // Where each case's time went: medians of its steps (state.json), of its pull, and of what is outside the steps.
  const step = (id: string) => (m: Measured) => m.steps[id] ?? 0
  const outside = (m: Measured) => m.seconds - Object.values(m.steps).reduce((sum, value) => sum + value, 0)
  const steps = [
    '| case | kspawn start (s) | fetch-source | build (of it: pull) | image (of it: keep + push) | cluster-up | smoke-test | between steps, summary, exit | wall |',
    '|---|---|---|---|---|---|---|---|---|',
    ...cases.map(
      (name) =>
        `| ${name} | ${s(med(name, (m) => m.start))} | ${s(med(name, step('fetch-source')))} | ${s(med(name, step('build')))} (${s(med(name, (m) => m.pull))}) | ${s(med(name, step('image')))} (${s(med(name, (m) => m.keep))}) | ${s(med(name, step('cluster-up')))} | ${s(med(name, step('smoke-test')))} | ${s(med(name, (m) => outside(m) - m.start))} | ${s(med(name))} |`,
    ),
  ]
  // The second machine: its wall time against what the goal says it should be.
  const wall = med('second machine')
  const goal = med('second machine', (m) => step('cluster-up')(m) + step('smoke-test')(m) + m.pull)
  const hitCost = med('second machine', (m) => step('build')(m) - m.pull)
  const overGoal = all['second machine'].map((m) => m.seconds / (step('cluster-up')(m) + step('smoke-test')(m) + m.pull))
  const coldBuild = med('cold', (m) => (m.steps.build ?? 0) + (m.steps.image ?? 0))
  const noCacheBuild = med('cold --no-cache', (m) => (m.steps.build ?? 0) + (m.steps.image ?? 0))
  const keep = med('cold', (m) => m.keep)
  const lines = [
    `One variant on kube-spawn (the world's default deployer) built from ${branches.denyattach}, \`cache: { registry }\` in the world's registry, a repository of its own per round; the built CLI, \`--renderer silent\`. Each of ${rounds} rounds: cold (fresh folder, checkout and workdir; nothing cached in the engine or the registry), the same folder again (the cluster up), again after \`kspawn down\`, then a second machine (the first one's cluster down and every local copy of its build removed; a fresh folder, checkout and workdir) and a cold run with \`--no-cache\`; cold and --no-cache take turns at going first. Teardown not timed. \`npm run bench:build-cache -- ${rounds}\`.`,
    '',
    ...table,
    '',
    'Where the time went, medians per column, so a row need not add up to its wall time (seconds; a skipped step counts 0; "keep + push" is the docker build of the entry and its docker push, "pull" the docker pull of the build step, both from events.jsonl):',
    '',
    ...steps,
    '',
    `No build step ran on the second machine in any round (no \`build/run.sh make\` or \`make -C cluster/images/hyperkube\` among its commands; its summary says "pulled from the cache"). Its wall time is ${s(wall)} s against ${s(goal)} s of cluster-up, smoke test and pull (medians; within a round ${median(overGoal).toFixed(2)}x, ${Math.min(...overGoal).toFixed(2)}-${Math.max(...overGoal).toFixed(2)}), ${s(wall - goal)} s more, of which ${s(hitCost)} s in the build step besides the pull (the key, checking the entry with docker run, restoring the binaries with docker create and docker cp). The cold run's build and image steps took ${s(coldBuild)} s with the cache (${s(keep)} s of it docker build and push of the entry) and ${s(noCacheBuild)} s with --no-cache. One-minute load average ${load.map((l) => l.toFixed(1)).join(' → ')} over the rounds.`,
    '',
    "The world's build is a stand-in: `build/run.sh make` and the hyperkube image take seconds here, not the 3-15 minutes of a real Kubernetes build, and its entry is a few MB, not the hundreds of MB of a real hyperkube image with its binaries. So the ratios to the cold run understate what a hit saves on a real tree (there the cold run is dominated by the build, which a hit replaces by a pull), and the pull and the cost of keeping an entry (docker build, docker push) are smaller here than with a real image and a remote registry.",
  ]
  process.stdout.write(`\n${[...table, '', ...steps].join('\n')}\n`)
  await recordResult('The build cache: cold, rerun, second machine (bench/build-cache.ts)', lines)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})
