// Benchmark (c): `kspawn run dev-loop` against the same work done by hand
// (`test/world/walkthrough.sh --from-source`): both build the denyattach and
// denyattachfix branches, make their images, spawn two clusters and run the
// article's test in each. Aim: kspawn within 1.15x of the walkthrough.
//
//   npm run world:up && npm run build && node --import tsx bench/dev-loop.ts [runs]
//
// Every run starts from nothing built: no worktree, no image, no cluster.
// Teardown is not timed. Runs alternate so drift on this shared machine hits
// both sides alike; medians and their ratio are printed and recorded in
// bench/RESULTS.md.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world } from '../test/world/harness.ts'
import { repoDir, worldDir } from '../test/world/state.ts'
import { median, recordResult, timed } from './results.ts'

const runs = Number(process.argv[2] ?? 3)
const tags = ['v1.8.5-beta.0-denyattach', 'v1.8.5-beta.0-denyattachfix']
const clusters = ['denyattach', 'denyattachfix']

async function clean(): Promise<void> {
  for (const cluster of clusters) {
    await kubeSpawn(['stop', '-c', cluster])
    await kubeSpawn(['destroy', '-c', cluster])
  }
  await sh(['docker', 'rmi', '--force', ...tags.map((tag) => `${HYPERKUBE}:${tag}`)])
}

async function kspawnConfig(home: string): Promise<string> {
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  const file = join(home, 'kspawn.config.ts')
  const variant = (branch: string, tag: string, message: string) =>
    `{ source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branch)} }, tag: ${JSON.stringify(tag)}, smoke: [admission.denies('attach', { message: ${JSON.stringify(message)} })] }`
  await writeFile(
    file,
    `import { defineConfig } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kubeSpawn } from 'kspawn/plugins/kube-spawn'
export default defineConfig({
  kubernetes: { checkout: ${JSON.stringify(checkout)} },
  workdir: ${JSON.stringify(join(home, 'work'))},
  deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)} }),
  variants: {
    denyattach: ${variant(branches.denyattach, tags[0]!, messages.denyattach)},
    denyattachfix: ${variant(branches.denyattachfix, tags[1]!, messages.denyattachfix)},
  },
})
`,
  )
  return file
}

async function main(): Promise<void> {
  const by: { walkthrough: number[]; kspawn: number[]; sequential: number[] } = { walkthrough: [], kspawn: [], sequential: [] }
  for (let i = 0; i < runs; i++) {
    await clean()
    by.walkthrough.push(await timed(['bash', join(worldDir, 'walkthrough.sh'), '--keep', '--from-source'], repoDir))
    // Variants side by side (the default), and one at a time as the walkthrough goes.
    for (const [side, extra] of [['kspawn', []], ['sequential', ['--concurrency', '1']]] as const) {
      await clean()
      const home = await mkdtemp(join(tmpdir(), 'kspawn-bench-'))
      try {
        const config = await kspawnConfig(home)
        by[side].push(await timed(['node', join(repoDir, 'dist', 'bin', 'kspawn.js'), 'run', 'dev-loop', '--config', config, '--renderer', 'silent', ...extra], home))
      } finally {
        await clean()
        await rm(home, { recursive: true, force: true })
      }
    }
    process.stdout.write(`run ${i + 1}: walkthrough ${by.walkthrough.at(-1)!.toFixed(1)} s, kspawn ${by.kspawn.at(-1)!.toFixed(1)} s, kspawn --concurrency 1 ${by.sequential.at(-1)!.toFixed(1)} s\n`)
  }
  const walkthrough = median(by.walkthrough)
  const kspawn = median(by.kspawn)
  const sequential = median(by.sequential)
  const ratio = kspawn / walkthrough
  const sequentialRatio = sequential / walkthrough
  const verdict = ratio <= 1.15 ? 'PASS' : 'FAIL'
  const sequentialVerdict = sequentialRatio <= 1.15 ? 'PASS' : 'FAIL'
  process.stdout.write(`kspawn run dev-loop ${kspawn.toFixed(1)} s vs walkthrough ${walkthrough.toFixed(1)} s (medians of ${runs}): ${ratio.toFixed(2)}x, aim <= 1.15x: ${verdict}\n`)
  process.stdout.write(`kspawn run dev-loop --concurrency 1 ${sequential.toFixed(1)} s: ${sequentialRatio.toFixed(2)}x, aim <= 1.15x: ${sequentialVerdict}\n`)
  await recordResult('kspawn run dev-loop against the walkthrough (bench/dev-loop.ts)', [
    'Both build the denyattach and denyattachfix branches from nothing, make both images, spawn two 2-node clusters and run the article\'s test in each; teardown not timed. `node --import tsx bench/dev-loop.ts ' + runs + '`.',
    '',
    '| side | runs (s) | median (s) |',
    '|---|---|---|',
    `| walkthrough.sh --from-source (by hand, sequential) | ${by.walkthrough.map((s) => s.toFixed(1)).join(', ')} | ${walkthrough.toFixed(1)} |`,
    `| kspawn run dev-loop (variants side by side) | ${by.kspawn.map((s) => s.toFixed(1)).join(', ')} | ${kspawn.toFixed(1)} |`,
    `| kspawn run dev-loop --concurrency 1 (one variant at a time, like the walkthrough) | ${by.sequential.map((s) => s.toFixed(1)).join(', ')} | ${sequential.toFixed(1)} |`,
    '',
    `kspawn / walkthrough: ${ratio.toFixed(2)}x side by side, ${sequentialRatio.toFixed(2)}x one at a time (aim <= 1.15x): **${verdict}**, **${sequentialVerdict}**.`,
  ])
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
