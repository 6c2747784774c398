// The dev loop on kind, as --dry-run shows it: the commands kspawn would run,
// in order, as kind v0.32 takes them, and nothing written. The loop itself,
// run against the world's kind stand-in, is test/e2e/kind-loop.test.ts.
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, must, world } from '../world/harness.ts'
import { kspawn } from './project.ts'

const test = suite('the dev loop on kind, dry run')

let home: string

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-kind-'))
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, join(home, 'kubernetes')])
  const source = `{ remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }`
  await writeFile(
    join(home, 'kspawn.config.ts'),
    [
      `import { defineConfig } from 'kspawn'`,
      `import { admission } from 'kspawn/plugins/admission'`,
      `import { kind } from 'kspawn/plugins/kind'`,
      `export default defineConfig({`,
      `  kubernetes: { checkout: './kubernetes' },`,
      `  deployer: kind({ workers: 2, admissionPlugins: ['DenyAttach'] }),`,
      `  variants: {`,
      `    deny2: { source: ${source}, tag: 'v1.8.5-beta.0-kind' },`,
      `    pulled: { image: 'registry.example/kind-node:v1.36.1' },`,
      `  },`,
      `  smoke: [admission.denies('attach')],`,
      `})`,
      '',
    ].join('\n'),
  )
})

test.after(async () => {
  await rm(home, { recursive: true, force: true })
})

test("kspawn run dev-loop --dry-run prints kind's commands for each variant, and writes nothing", async () => {
  const result = await kspawn(home, ['run', 'dev-loop', '--dry-run', '--renderer', 'simple'])
  assert.is(result.exitCode, 0, result.output.slice(-4000))
  const commands = result.stdout.split('\n').filter((line) => line.startsWith('$ '))
  const worktree = join(home, '.kspawn', 'worktrees', 'deny2', 'src', 'k8s.io', 'kubernetes')
  const kindDir = join(home, '.kspawn', 'kind')
  assert.ok(commands.includes(`$ kind build node-image ${worktree} --type source --image kspawn/kind-node:v1.8.5-beta.0-kind`), commands.join('\n'))
  assert.ok(
    commands.includes(`$ kind create cluster --name deny2 --image kspawn/kind-node:v1.8.5-beta.0-kind --config ${kindDir}/deny2/kind-config.yaml --kubeconfig ${kindDir}/deny2/kubeconfig --wait 300s`),
    commands.join('\n'),
  )
  assert.ok(commands.includes('$ docker pull registry.example/kind-node:v1.36.1'), commands.join('\n'))
  assert.ok(commands.includes('$ docker tag registry.example/kind-node:v1.36.1 kspawn/kind-node:v1.36.1'), commands.join('\n'))
  assert.ok(commands.includes(`$ kind create cluster --name pulled --image kspawn/kind-node:v1.36.1 --config ${kindDir}/pulled/kind-config.yaml --kubeconfig ${kindDir}/pulled/kubeconfig --wait 300s`), commands.join('\n'))
  assert.not.ok(commands.some((line) => /kube-spawn|hyperkube|build\/run\.sh/.test(line)), commands.join('\n'))
  // The kind config it would write: three nodes, and DenyAttach among the API server's admission plugins.
  // The plain renderer puts its mark and the time before each line of a message.
  const lines = result.stdout.replace(/^› \[\d\d:\d\d:\d\d\] /gm, '')
  assert.match(lines, `${kindDir}/deny2/kind-config.yaml would hold:\nkind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n  - role: worker\n  - role: worker\nkubeadmConfigPatches:\n  - |\n    kind: ClusterConfiguration\n    apiServer:\n      extraArgs:\n        enable-admission-plugins: DenyAttach\n`)
  assert.match(result.stdout, 'dev-loop (dry run): ')
  // Nothing written: no run folder, no kind folder, no worktree.
  assert.not.ok(existsSync(join(home, '.kspawn')), `wrote ${join(home, '.kspawn')}`)
  assert.equal((await readdir(home)).sort(), ['kspawn.config.ts', 'kubernetes'])
})

test.run()
