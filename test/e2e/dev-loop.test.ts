// `kspawn run dev-loop` end to end in the test world: real git, a real Docker
// engine and kubectl, kube-spawn and the API server stood in for. What is
// asserted is what a user sees: exit codes, the summary, files, and a
// checkout left exactly as it was.
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world, type Result } from '../world/harness.ts'
import { deniedWith, kspawn as runKspawn, summaryOf, writeConfig as writeE2eConfig } from './project.ts'

const test = suite('kspawn run dev-loop')

let home: string
let checkout: string

/**
 * Everything of a checkout a user could lose: files, index, HEAD, stash, local
 * branches. (kspawn may add a remote and fetch into it: that loses nothing.)
 */
async function fingerprint(tree: string): Promise<string> {
  const hash = createHash('sha256')
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) {
        if (path === join(tree, '.git')) continue
        await walk(path)
      } else {
        hash.update(relative(tree, path)).update('\0').update(await readFile(path)).update('\0')
      }
    }
  }
  await walk(tree)
  hash.update(await readFile(join(tree, '.git', 'index')))
  for (const argv of [['git', 'rev-parse', 'HEAD'], ['git', 'symbolic-ref', 'HEAD'], ['git', 'stash', 'list'], ['git', 'status', '--porcelain'], ['git', 'branch', '-v']]) {
    // Without optional locks, git status does not refresh the index it is asked about.
    hash.update((await must(argv, { cwd: tree, env: { GIT_OPTIONAL_LOCKS: '0' } })).stdout)
  }
  return hash.digest('hex')
}

interface VariantSpec {
  branch?: string
  upstreamTag?: string
  tag: string
  cluster: string
  message?: string
  /** The variant's smoke list, as TypeScript; instead of a denial with `message`. */
  smoke?: string
}

async function writeConfig(name: string, variants: Record<string, VariantSpec>): Promise<string> {
  const lines = Object.entries(variants).map(([variant, spec]) => {
    const source = spec.branch
      ? `{ remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(spec.branch)} }`
      : `{ remote: ${JSON.stringify(world().KSPAWN_WORLD_UPSTREAM)}, tag: ${JSON.stringify(spec.upstreamTag)} }`
    const smoke = spec.smoke ? `, smoke: ${spec.smoke}` : spec.message ? `, smoke: [admission.denies('attach', { message: ${JSON.stringify(spec.message)} })]` : ''
    return `${variant}: { source: ${source}, tag: ${JSON.stringify(spec.tag)}, cluster: ${JSON.stringify(spec.cluster)}${smoke} }`
  })
  return writeE2eConfig(join(home, name), { checkout, workdir: join(home, 'work'), variants: lines, smoke: `[admission.denies('attach')]` })
}

function kspawn(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return runKspawn(home, args, env)
}

/** A line of busybox `date` in the pod, e.g. `Sun Nov 26 15:17:32 UTC 2017`. */
const DATE_LINE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} [A-Z]+ \d{4}$/

/** What the summary shows under a smoke test's result line: the command it ran and the lines it printed. */
function seenUnder(stdout: string, resultLine: string): string[] {
  const lines = stdout.split('\n')
  const at = lines.indexOf(resultLine)
  assert.ok(at >= 0, `no line ${JSON.stringify(resultLine)} in:\n${stdout.slice(-3000)}`)
  const first = /^ {8}seen: (.*)$/.exec(lines[at + 1] ?? '')
  assert.ok(first, `nothing seen under ${JSON.stringify(resultLine)}:\n${stdout.slice(-3000)}`)
  const rest = lines.slice(at + 2)
  const end = rest.findIndex((line) => !line.startsWith(' '.repeat(14)))
  return [first[1]!, ...rest.slice(0, end < 0 ? rest.length : end).map((line) => line.slice(14))]
}

async function down(...clusters: string[]): Promise<void> {
  for (const cluster of clusters) {
    await kubeSpawn(['stop', '-c', cluster])
    await kubeSpawn(['destroy', '-c', cluster])
  }
}

test.before(async () => {
  home = await mkdtemp(join(tmpdir(), 'kspawn-e2e-'))
  checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  // Work in progress of every kind that the article's `git pull` + `git checkout` could lose.
  const git = (args: string[]) => must(['git', '-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', ...args], { cwd: checkout })
  await writeFile(join(checkout, 'README.md'), 'stashed change\n')
  await git(['stash', 'push', '--quiet', '-m', 'work in progress'])
  await writeFile(join(checkout, 'staged.txt'), 'staged\n')
  await git(['add', 'staged.txt'])
  await writeFile(join(checkout, 'Makefile'), (await readFile(join(checkout, 'Makefile'), 'utf8')) + '# local edit\n')
  await writeFile(join(checkout, 'untracked.go'), 'package main\n')
})

test.after(async () => {
  await rm(home, { recursive: true, force: true })
  await sh(['docker', 'rmi', '--force', ...['deny', 'fix', 'up', 'broken'].map((name) => `${HYPERKUBE}:v1.8.5-beta.0-e2e-${name}`)])
})

test('denyattach and denyattachfix pass side by side, each with its own message, and the checkout is untouched', async () => {
  const before = await fingerprint(checkout)
  const config = await writeConfig('kspawn.config.ts', {
    denyattach: { branch: branches.denyattach, tag: 'v1.8.5-beta.0-e2e-deny', cluster: 'etwodeny', message: messages.denyattach },
    denyattachfix: { branch: branches.denyattachfix, tag: 'v1.8.5-beta.0-e2e-fix', cluster: 'etwofix', message: messages.denyattachfix },
  })
  try {
    const result = await kspawn(['run', 'dev-loop', '--config', config])
    assert.is(result.exitCode, 0, result.output.slice(-4000))
    // What each cluster's API server answered to kubectl attach, not the expectation from the config.
    assert.match(summaryOf(result.output, 'denyattach'), deniedWith(messages.denyattach))
    assert.match(summaryOf(result.output, 'denyattachfix'), deniedWith(messages.denyattachfix))
    assert.not.match(summaryOf(result.output, 'denyattach'), deniedWith(messages.denyattachfix))
    assert.match(result.output, `export KUBECONFIG=${join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'etwodeny', 'kubeconfig')}`)
    assert.match(result.output, `export KUBECONFIG=${join(world().KSPAWN_WORLD_KUBE_SPAWN_DIR, 'etwofix', 'kubeconfig')}`)
    // Both clusters run at once, and each runs the image of its own build.
    const machines = await must(['machinectl', 'list'])
    for (const name of ['kubespawnetwodeny0', 'kubespawnetwodeny1', 'kubespawnetwofix0', 'kubespawnetwofix1']) assert.match(machines.stdout, name)
    for (const [cluster, tag] of [['etwodeny', 'v1.8.5-beta.0-e2e-deny'], ['etwofix', 'v1.8.5-beta.0-e2e-fix']] as const) {
      const image = await must(['docker', 'inspect', '--format', '{{.Config.Image}}', `kubespawn${cluster}0`])
      assert.is(image.stdout.trim(), `${HYPERKUBE}:${tag}`)
    }
    assert.is(await fingerprint(checkout), before, 'the user checkout changed')
  } finally {
    await down('etwodeny', 'etwofix')
  }
})

test('a build without DenyAttach passes admission.allows(attach) and fails admission.denies(attach): the attach streamed the pod\'s date lines', async () => {
  const upstream = { upstreamTag: 'v1.8.5-beta.0', tag: 'v1.8.5-beta.0-e2e-up', cluster: 'etwoup' }
  const allows = await writeConfig('upstream.config.ts', { upstream: { ...upstream, smoke: `[admission.allows('attach')]` } })
  // The same variant and cluster, now expected to deny: run as one task on the cluster the first run left up.
  const denies = await writeConfig('upstream-denies.config.ts', { upstream: { ...upstream, message: messages.denyattach } })
  try {
    const run = await kspawn(['run', 'dev-loop', '--config', allows])
    assert.is(run.exitCode, 0, run.output.slice(-4000))
    assert.match(run.stdout, '  ✔ upstream passed\n')
    const allowed = seenUnder(run.stdout, '      ✔ attach is allowed')
    assert.match(allowed[0]!, /^\$ kubectl attach kspawn-smoke-[0-9a-f]+$/)
    assert.ok(allowed.some((line) => DATE_LINE.test(line)), `the attach printed the pod's date lines:\n${allowed.join('\n')}`)
    assert.not.ok(allowed.some((line) => line.includes('Forbidden')), allowed.join('\n'))

    const task = await kspawn(['task', 'smoke-test', '--variant', 'upstream', '--config', denies])
    assert.is(task.exitCode, 1, task.output.slice(-4000))
    assert.match(task.stdout, '  ✖ upstream failed at smoke-test\n')
    const denied = seenUnder(task.stdout, `      ✖ attach is denied with "${messages.denyattach}"`)
    assert.match(denied[0]!, /^\$ kubectl attach kspawn-smoke-[0-9a-f]+$/)
    assert.ok(denied.some((line) => DATE_LINE.test(line)), `the attach printed the pod's date lines:\n${denied.join('\n')}`)
    assert.not.ok(denied.some((line) => line.includes('Forbidden')), denied.join('\n'))
    // The same cluster: the task neither rebuilt nor respawned it.
    assert.not.match(task.output, /kube-spawn -d|build\/run\.sh/)
  } finally {
    await down('etwoup')
  }
})

test('a build that fails half-way stops its variant with the command, exit code, last lines and log', async () => {
  const config = await writeConfig('failing.config.ts', {
    broken: { branch: branches.denyattach, tag: 'v1.8.5-beta.0-e2e-broken', cluster: 'etwobroken' },
  })
  const result = await kspawn(['run', 'dev-loop', '--config', config], { KSPAWN_WORLD_BUILD_FAIL_AT: 'kubelet', KSPAWN_WORLD_BUILD_FAIL_CODE: '3' })
  assert.is(result.exitCode, 1, result.output.slice(-4000))
  assert.match(result.output, 'build/run.sh make exited with code 3')
  const log = /full log: (\S+build\.log)/.exec(result.output)
  assert.ok(log, `the error names the build log:\n${result.output.slice(-3000)}`)
  assert.match(await readFile(log[1]!, 'utf8'), '$ build/run.sh make')
  // Nothing after the build ran: no image, no cluster.
  assert.is((await sh(['docker', 'image', 'inspect', `${HYPERKUBE}:v1.8.5-beta.0-e2e-broken`])).exitCode, 1)
  assert.not.match((await must(['machinectl', 'list'])).stdout, 'kubespawnetwobroken')
})

test.run()
