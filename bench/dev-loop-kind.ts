// Benchmark: `kspawn run dev-loop` on kind against the same work done by hand
// (`test/world/walkthrough-kind.sh`): both fetch the fork's v1.36.1 DenyAttach
// branch, build a kind node image from it, make a two-node kind cluster whose
// API server enables DenyAttach and run the article's test in it. Aim: kspawn
// within 1.15x of the walkthrough.
//
//   npm run world:up && npm run build && node --import tsx bench/dev-loop-kind.ts [runs]
//
// Every run starts from nothing built: no worktree, no node image, no cluster.
// Teardown is not timed. The two sides take turns, and which goes first
// alternates from run to run, so that drift on this shared machine hits both
// alike; medians and their ratio are printed and recorded in bench/RESULTS.md.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { MODERN_BRANCHES } from '../test/world/fixture/generate.ts'
import { messages, must, sh, world } from '../test/world/harness.ts'
import { repoDir, worldDir } from '../test/world/state.ts'
import { median, recordResult, timed } from './results.ts'

const runs = Number(process.argv[2] ?? 3)
/** Both sides name their cluster after the variant, as the walkthrough does. */
const cluster = 'denyattach'
const tag = 'v1.36.1-denyattach'
/** The node images each side builds: kspawn's name for the variant's tag, and the walkthrough's own. */
const images = [`kspawn/kind-node:${tag}`, `kindest/node:${tag}`]

async function clean(): Promise<void> {
  // A kubeconfig of its own, so that kind removes the cluster's entries from no file of the user's.
  const scratch = join(world().KSPAWN_WORLD_STATE, 'bench-kind-delete.kubeconfig')
  await sh(['kind', 'delete', 'cluster', '--name', cluster, '--kubeconfig', scratch])
  await rm(scratch, { force: true })
  await sh(['docker', 'rmi', '--force', ...images])
}

async function kspawnConfig(home: string): Promise<string> {
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  const file = join(home, 'kspawn.config.ts')
  await writeFile(
    file,
    `import { defineConfig } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kind } from 'kspawn/plugins/kind'
export default defineConfig({
  kubernetes: { checkout: ${JSON.stringify(checkout)} },
  workdir: ${JSON.stringify(join(home, 'work'))},
  deployer: kind({ admissionPlugins: ['DenyAttach'] }),
  variants: {
    ${cluster}: {
      source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(MODERN_BRANCHES.denyattach)} },
      tag: ${JSON.stringify(tag)},
      smoke: [admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })],
    },
  },
})
`,
  )
  return file
}

async function walkthrough(): Promise<number> {
  await clean()
  try {
    return await timed(['bash', join(worldDir, 'walkthrough-kind.sh'), '--keep'], repoDir)
  } finally {
    await clean()
  }
}

async function kspawn(): Promise<number> {
  await clean()
  const homes = join(world().KSPAWN_WORLD_STATE, 'bench-kind')
  await mkdir(homes, { recursive: true })
  const home = await mkdtemp(join(homes, 'run-'))
  try {
    const config = await kspawnConfig(home)
    return await timed(['node', join(repoDir, 'dist', 'bin', 'kspawn.js'), 'run', 'dev-loop', '--config', config, '--renderer', 'silent'], home)
  } finally {
    await clean()
    await rm(home, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const by: { walkthrough: number[]; kspawn: number[] } = { walkthrough: [], kspawn: [] }
  const load = [loadavg()[0]!]
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? (['walkthrough', 'kspawn'] as const) : (['kspawn', 'walkthrough'] as const)
    for (const side of order) by[side].push(side === 'walkthrough' ? await walkthrough() : await kspawn())
    load.push(loadavg()[0]!)
    process.stdout.write(`run ${i + 1} (${order.join(' first, then ')}): walkthrough-kind ${by.walkthrough.at(-1)!.toFixed(1)} s, kspawn ${by.kspawn.at(-1)!.toFixed(1)} s\n`)
  }
  const walk = median(by.walkthrough)
  const ours = median(by.kspawn)
  const ratio = ours / walk
  const verdict = ratio <= 1.15 ? 'PASS' : 'FAIL'
  process.stdout.write(`kspawn run dev-loop on kind ${ours.toFixed(1)} s vs walkthrough-kind ${walk.toFixed(1)} s (medians of ${runs}): ${ratio.toFixed(2)}x, aim <= 1.15x: ${verdict}\n`)
  await recordResult('kspawn run dev-loop on kind against walkthrough-kind.sh (bench/dev-loop-kind.ts)', [
    `Both fetch ${MODERN_BRANCHES.denyattach}, build a kind node image from it (\`kind build node-image\`, the tree's \`make quick-release-images\`), make a kind cluster of a control plane and a worker whose API server enables DenyAttach, and run the article's test in it; from nothing (no worktree, no node image, no cluster), teardown not timed. The sides take turns, the first alternating from run to run. \`node --import tsx bench/dev-loop-kind.ts ${runs}\`.`,
    '',
    '| side | runs (s) | median (s) |',
    '|---|---|---|',
    `| walkthrough-kind.sh (by hand) | ${by.walkthrough.map((s) => s.toFixed(1)).join(', ')} | ${walk.toFixed(1)} |`,
    `| kspawn run dev-loop (test/world/demo-kind.config.ts's loop, fresh workdir) | ${by.kspawn.map((s) => s.toFixed(1)).join(', ')} | ${ours.toFixed(1)} |`,
    '',
    `kspawn / walkthrough-kind: ${ratio.toFixed(2)}x (aim <= 1.15x): **${verdict}**. One-minute load average ${load.map((l) => l.toFixed(1)).join(' → ')} over the runs.`,
  ])
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
