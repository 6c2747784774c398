// kspawn as its users install it, not run from sources under tsx: built with
// `npm run build` and put on PATH with `npm link` (README's "Real use"), then
// `kspawn run dev-loop` in a folder whose kspawn.config.ts imports 'kspawn'
// and its plugins, which resolve to the built package. A second test
// installs what `npm pack` ships, with its runtime dependencies only.
import { existsSync, realpathSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { groundwork, suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world } from '../world/harness.ts'
import { repoDir } from '../world/state.ts'
import { installedKspawn, writeConfig } from './project.ts'

const test = suite('the installed kspawn')

let home = ''
let checkout = ''
/** npm's global prefix for this test: `npm link` puts bin/kspawn there. */
let prefix = ''
const tag = 'v1.8.5-beta.0-inst-deny'
const cluster = 'instdeny'

/** The environment of a user whose PATH has the linked kspawn (and the world's tools). */
const linked = () => ({ PATH: `${join(prefix, 'bin')}:${world().PATH}` })

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-installed-'))
  prefix = join(home, 'npm-global')
  checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
})

test.after(async () => {
  await kubeSpawn(['stop', '-c', cluster])
  await kubeSpawn(['destroy', '-c', cluster])
  await sh(['docker', 'rmi', '--force', `${HYPERKUBE}:${tag}`])
  if (home) await rm(home, { recursive: true, force: true })
})

groundwork(test, 'npm run build makes dist/, and npm link puts it on PATH', async () => {
  await must(['npm', 'run', '--silent', 'build'], { cwd: repoDir })
  // npm link installs nothing from the registry: the package's node_modules are those of npm ci.
  // Under `npm test`, npm hands its own prefix down as npm_config_prefix, which wins over NPM_CONFIG_PREFIX: set both.
  await must(['npm', 'link', '--offline', '--no-audit', '--no-fund'], { cwd: repoDir, env: { NPM_CONFIG_PREFIX: prefix, npm_config_prefix: prefix } })
  assert.ok(existsSync(join(prefix, 'bin', 'kspawn')), `npm link put no kspawn in ${prefix}/bin`)
})

test('npm link puts the built bin on PATH, and it runs the dev loop with a config that imports kspawn and its plugins', async () => {
  const found = await must(['sh', '-c', 'command -v kspawn'], { env: linked() })
  assert.is(found.stdout.trim(), join(prefix, 'bin', 'kspawn'))
  assert.is(realpathSync(found.stdout.trim()), join(repoDir, 'dist', 'bin', 'kspawn.js'))

  const project = join(home, 'denyattach')
  await mkdir(project)
  const variant = `denyattach: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: '${cluster}' }`
  await writeConfig(join(project, 'kspawn.config.ts'), {
    checkout,
    workdir: join(home, 'work'),
    variants: [variant],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
  const config = await readFile(join(project, 'kspawn.config.ts'), 'utf8')
  for (const name of ['kspawn', 'kspawn/plugins/admission', 'kspawn/plugins/kube-spawn']) assert.match(config, `from '${name}'\n`)

  // As the README has it: in the config's folder, no --config.
  const run = await installedKspawn(project, ['run', 'dev-loop'], linked())
  assert.is(run.exitCode, 0, run.output.slice(-4000))
  assert.match(run.stdout, 'dev-loop: 1 of 1 variant passed')
  // What the API server answered to the smoke test's attach, for the pod that kspawn ran.
  const attached = /^ +seen: \$ kubectl attach (kspawn-smoke-[0-9a-f]+)$/m.exec(run.stdout)
  assert.ok(attached, run.stdout.slice(-3000))
  const pod = attached[1]!
  assert.match(run.stdout, `\n              Error from server (Forbidden): pods "${pod}" is forbidden: ${messages.denyattach}\n`)
  const image = await must(['docker', 'inspect', '--format', '{{.Config.Image}}', `kubespawn${cluster}0`])
  assert.is(image.stdout.trim(), `${HYPERKUBE}:${tag}`)

  // The summary's advice, pasted as it is.
  const advice = /the cluster stays up; remove it with: (kspawn down \S+)$/m.exec(run.stdout)
  assert.ok(advice, run.stdout.slice(-3000))
  assert.is(advice[1], `kspawn down ${cluster}`)
  const down = await must(['sh', '-c', advice[1]!], { cwd: project, env: { ...linked(), NO_COLOR: '1' } })
  assert.match(down.stdout, `removed cluster ${cluster}\n`)
  assert.not.match((await must(['machinectl', 'list'])).stdout, `kubespawn${cluster}`)
})

test("npm pack's package, installed with its runtime dependencies only, loads the config and plans the loop", async () => {
  const packed = join(home, 'packed')
  await mkdir(packed)
  const file = (await must(['npm', 'pack', '--silent', '--pack-destination', packed], { cwd: repoDir })).stdout.trim().split('\n').at(-1)!
  const installed = join(packed, 'lib', 'node_modules', 'kspawn')
  await mkdir(installed, { recursive: true })
  await must(['tar', '-xzf', join(packed, file), '-C', installed, '--strip-components=1'])
  // The lock file pins what npm install would pick; --omit=dev leaves out tsx, typescript, uvu and the rest.
  await copyFile(join(repoDir, 'package-lock.json'), join(installed, 'package-lock.json'))
  await must(['npm', 'ci', '--omit=dev', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: installed })
  assert.not.ok(await readFile(join(installed, 'node_modules', 'tsx', 'package.json'), 'utf8').catch(() => undefined), 'tsx is not installed')
  const bin = join(packed, 'bin')
  await mkdir(bin)
  await must(['ln', '-s', join(installed, 'dist', 'bin', 'kspawn.js'), join(bin, 'kspawn')])

  const project = join(home, 'packed-project')
  await mkdir(project)
  const variant = `denyattach: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: '${tag}', cluster: 'instpacked' }`
  await writeConfig(join(project, 'kspawn.config.ts'), { checkout, workdir: join(home, 'packed-work'), variants: [variant], smoke: `[admission.denies('attach')]` })
  const env = { PATH: `${bin}:${world().PATH}` }
  const plan = await installedKspawn(project, ['run', 'dev-loop', '--dry-run'], env)
  assert.is(plan.exitCode, 0, plan.output.slice(-4000))
  assert.match(plan.stdout, `$ kube-spawn -d ${world().KSPAWN_WORLD_KUBE_SPAWN_DIR} create --dev -t ${tag} -c instpacked -n 2\n`)
  assert.match(plan.stdout, `$ kubectl attach kspawn-smoke-`)
  assert.match(plan.stdout, 'dev-loop (dry run): ')
})

test.run()
