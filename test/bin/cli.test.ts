// The command line in-process, with a registry of fake tasks: help and
// version, usage errors and their exit status, config errors, list, run,
// task and doctor.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { Registry } from '../../cli/registry.ts'
import { StepError } from '../../engine/errors.ts'
import { fakeTask, writeConfigFile } from '../engine/workflow-helpers.ts'
import { inProcessCli, linkTools } from './in-process-cli.ts'

const repo = path.resolve(import.meta.dirname, '../..')
const { version } = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8')) as { version: string }

const seen: string[] = []
const fetch = fakeTask('fetch-source')
const build = fakeTask('build', {
  run: async (ctx) => {
    if (ctx.variant.name === 'broken') throw new StepError('build (broken) failed: build/run.sh make exited with code 2')
  },
})
const clusterUp = fakeTask('cluster-up', {
  run: async (ctx) => {
    ctx.state.kubeconfig = `/var/lib/kube-spawn/${ctx.variant.cluster}/kubeconfig`
  },
})
const smoke = fakeTask('smoke-test', { run: async (ctx) => void seen.push(`smoke-test ${ctx.variant.name} on ${ctx.state.kubeconfig}`) })
const registry: Registry = {
  workflows: [
    { id: 'dev-loop', description: 'the whole loop', tasks: [fetch, build, clusterUp] },
    { id: 'share', description: 'push the images', tasks: [fetch] },
  ],
  tasks: [fetch, build, clusterUp, smoke],
}

let dir = ''
test.before.each(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kspawn-cli-'))
  seen.length = 0
})
test.after.each(async () => {
  await rm(dir, { recursive: true, force: true })
})

const kspawn = inProcessCli(() => dir, () => registry)

test('--version prints the version of package.json', async () => {
  const { exitCode, stdout, stderr } = await kspawn(['--version'])
  assert.is(exitCode, 0)
  assert.is(stdout, `${version}\n`)
  assert.is(stderr, '')
})

test('--help lists the commands; each command has its own help with examples', async () => {
  const top = await kspawn(['--help'])
  assert.is(top.exitCode, 0)
  for (const command of ['kspawn run <workflow>', 'kspawn task <task>', 'kspawn list', 'kspawn doctor', '--config']) {
    assert.ok(top.stdout.includes(command), command)
  }
  const run = await kspawn(['run', '--help'])
  assert.is(run.exitCode, 0)
  for (const text of ['--variant', '--concurrency', '--recreate', '--dry-run', '--renderer', '--resume', 'kspawn run dev-loop --dry-run']) {
    assert.ok(run.stdout.includes(text), text)
  }
  const task = await kspawn(['task', '--help'])
  assert.ok(task.stdout.includes('kspawn task smoke-test --variant denyattachfix'))
  assert.ok((await kspawn(['doctor', '--help'])).stdout.includes('kube-spawn, kubectl'))
})

test('--help shows everyday examples, the exit statuses and where the docs are, and stays on the fast path', async () => {
  const { exitCode, stdout } = await kspawn(['--help'])
  assert.is(exitCode, 0)
  for (const example of ['kspawn doctor', 'kspawn list', 'kspawn run dev-loop', 'kspawn run dev-loop --dry-run', 'kspawn task smoke-test --variant denyattach', 'kspawn clusters', 'kspawn down denyattach', 'kspawn completion >> ~/.bashrc']) {
    assert.match(stdout, new RegExp(`^  ${example.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  `, 'm'), example)
  }
  const flat = stdout.replace(/\s+/g, ' ')
  for (const status of ['0 every variant passed', '1 a step failed', '2 bad usage or config, nothing was run', '130 interrupted']) assert.ok(flat.includes(status), status)
  assert.ok(flat.includes('docs/cli.md') && flat.includes('docs/config.md') && flat.includes('kspawn <command> --help'))
  const { helpTexts } = await import('../../cli/help-text.ts')
  assert.is(stdout, `${helpTexts['']}\n`, 'the generated help, printed without yargs')
})

test('a mistyped command: did you mean, exit 2, and nothing run', async () => {
  await writeConfigFile(dir)
  for (const [typed, meant] of [['rnu', 'run'], ['lsit', 'list'], ['doctr', 'doctor'], ['clusterz', 'clusters'], ['compleiton', 'completion']]) {
    const { exitCode, stdout, stderr } = await kspawn([typed!, 'dev-loop'])
    assert.equal({ exitCode, stdout, stderr }, { exitCode: 2, stdout: '', stderr: `unknown command "${typed}": did you mean ${meant}?\nSee: kspawn --help\n` })
  }
  assert.equal(seen, [])
})

test('an unknown option or command is a usage error: exit 2', async () => {
  await writeConfigFile(dir)
  const option = await kspawn(['run', 'dev-loop', '--varient', 'denyattach'])
  assert.is(option.exitCode, 2)
  assert.is(option.stderr, 'unknown option --varient: did you mean --variant?\nSee: kspawn run --help\n')
  const command = await kspawn(['spawn'])
  assert.is(command.exitCode, 2)
  assert.is(command.stderr, 'unknown command "spawn": the commands are run, task, pr, logs, list, clusters, down, doctor, completion\nSee: kspawn --help\n')
  const renderer = await kspawn(['run', 'dev-loop', '--renderer', 'fancy'])
  assert.is(renderer.exitCode, 2)
  assert.is(renderer.stderr, '--renderer must be one of default, simple, verbose, silent, json; found "fancy"\nSee: kspawn run --help\n')
})

test("yargs' messages are read, and said, in English whatever the locale", async () => {
  await writeConfigFile(dir)
  const before = process.env.LC_ALL
  process.env.LC_ALL = 'de_DE.UTF-8'
  try {
    const { exitCode, stderr } = await kspawn(['run', 'dev-loop', '--variant'])
    assert.is(exitCode, 2)
    assert.is(stderr, '--variant needs a value, e.g. --variant denyattach\nSee: kspawn run --help\n')
  } finally {
    if (before === undefined) delete process.env.LC_ALL
    else process.env.LC_ALL = before
  }
})

test('an unknown workflow, task or variant exits 2 and lists the known ones', async () => {
  await writeConfigFile(dir)
  const workflow = await kspawn(['run', 'dev-lop'])
  assert.is(workflow.exitCode, 2)
  assert.is(workflow.stderr, 'unknown workflow "dev-lop": the workflows are dev-loop, share (kspawn list shows them)\n')

  const task = await kspawn(['task', 'bild', '--variant', 'denyattach'])
  assert.is(task.exitCode, 2)
  assert.is(task.stderr, 'unknown task "bild": the tasks are fetch-source, build, cluster-up, smoke-test, image, use-image (kspawn list shows them)\n')

  const file = path.join(dir, 'kspawn.config.mjs')
  for (const argv of [
    ['run', 'dev-loop', '--variant', 'denyatach'],
    ['task', 'build', '--variant', 'denyatach'],
  ]) {
    const variant = await kspawn(argv)
    assert.is(variant.exitCode, 2, argv.join(' '))
    assert.is(variant.stderr, `unknown variant "denyatach": ${file} has the variants denyattach, denyattachfix\n`)
  }

  const unnamed = await kspawn(['task', 'build'])
  assert.is(unnamed.exitCode, 2)
  assert.is(unnamed.stderr, 'name the variant to run build for with --variant: one of denyattach, denyattachfix\n')
})

test('a bad config exits 2 with the problem, and nothing runs', async () => {
  await writeFile(
    path.join(dir, 'kspawn.config.mjs'),
    `export default {
  kubernetes: { checkout: './kubernetes' },
  deployer: { kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' } },
  variants: { denyattach: { source: { remote: 'https://github.com/kinvolk/kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' }, tag: 'v1.8:bad' } },
}
`,
  )
  for (const argv of [['run', 'dev-loop'], ['list'], ['task', 'build']]) {
    const { exitCode, stdout, stderr } = await kspawn(argv)
    assert.is(exitCode, 2, argv.join(' '))
    assert.is(stdout, '')
    assert.is(stderr, 'kspawn.config.mjs: variants.denyattach.tag: expected a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), found "v1.8:bad" (it contains ":")\n')
  }
  const missing = await kspawn(['list', '--config', 'other.config.ts'])
  assert.is(missing.exitCode, 2)
  assert.is(missing.stderr, 'other.config.ts: no such file\n')
  assert.equal(await readdir(dir), ['kspawn.config.mjs'], 'no run folder')
})

test('a config written as plain data names its deployer: an unknown one exits 2 naming the known ones, a known one is that plugin', async () => {
  const plain = (deployer: string) => `export default {
  kubernetes: { checkout: './kubernetes' },
  deployer: ${deployer},
  variants: { web: { image: 'docker.io/kinvolk/hyperkube-amd64:v1' } },
}
`
  await writeFile(path.join(dir, 'kspawn.config.mjs'), plain(`{ kind: 'deployer', name: 'kube-spwan', options: { nodes: 2 } }`))
  for (const argv of [['run', 'dev-loop'], ['list'], ['clusters'], ['doctor']]) {
    const unknown = await kspawn(argv)
    assert.is(unknown.exitCode, 2, argv.join(' '))
    assert.is(
      unknown.stderr,
      `kspawn.config.mjs: deployer: expected a deployer such as kubeSpawn() from 'kspawn/plugins/kube-spawn' or kind() from 'kspawn/plugins/kind', found deployer "kube-spwan" (known deployers: kube-spawn and kind; did you mean "kube-spawn"?)\n`,
    )
  }
  // A plain-data deployer of a known plugin is that plugin, with its defaults and its rule on cluster names.
  // (Another file: Node keeps an ES module it has imported, whatever the file says now.)
  await writeFile(path.join(dir, 'known.config.mjs'), plain(`{ kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' } }`).replace('web: {', 'web1: {'))
  const rule = await kspawn(['list', '--config', 'known.config.mjs'])
  assert.is(rule.exitCode, 2)
  assert.match(rule.stderr, 'known.config.mjs: variants.web1: expected a variant name that is a valid cluster name, or a cluster field (a cluster is named after its variant by default), found "web1" (it ends in a digit; kube-spawn v0.2 names machines kubespawn<cluster><index>')
  assert.equal(await readdir(dir), ['known.config.mjs', 'kspawn.config.mjs'], 'no run folder')
  await rm(path.join(dir, 'known.config.mjs'))
})

test('list shows the workflows with their tasks, the tasks, and the variants with their image, tag and cluster', async () => {
  await writeConfigFile(dir)
  const { exitCode, stdout } = await kspawn(['list'])
  assert.is(exitCode, 0)
  assert.is(
    stdout,
    [
      'Workflows:',
      '  dev-loop  the whole loop',
      '            fetch-source → build → cluster-up',
      '  share     push the images',
      '            fetch-source',
      '',
      'Tasks (kspawn task <task> --variant <variant>):',
      '  fetch-source  the fake fetch-source task',
      '  build         the fake build task',
      '  cluster-up    the fake cluster-up task',
      '  smoke-test    the fake smoke-test task',
      '  Steps of the deployer kube-spawn, for its variants:',
      "  build         build/run.sh make in the variant's worktree (skipped when that tree was built with the same flags)",
      '  image         make -C cluster/images/hyperkube VERSION=<tag>: the hyperkube image the cluster runs',
      '  use-image     docker pull an external image and docker tag it as a local build would be (refused when its patch changes kubeadm)',
      '',
      'Variants in kspawn.config.mjs:',
      '  denyattach     image docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattach',
      '                 tag v1.8.5-beta.0-denyattach, cluster denyattach',
      '  denyattachfix  image docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
      '                 tag v1.8.5-beta.0-denyattachfix, cluster denyattachfix',
      '',
    ].join('\n'),
  )
})

test('run exits 0 when every variant passes and 1 when a step fails', async () => {
  await writeConfigFile(dir, ['denyattach', 'broken'])
  const passing = await kspawn(['run', 'dev-loop', '--variant', 'denyattach', '--renderer', 'simple'])
  assert.is(passing.exitCode, 0)
  assert.match(passing.stdout, /dev-loop: 1 of 1 variant passed\n/)

  const failing = await kspawn(['run', 'dev-loop', '--renderer', 'simple', '--concurrency', '1'])
  assert.is(failing.exitCode, 1)
  // The failing variant does not stop the other: each one's result is in the summary.
  assert.match(failing.stdout, /dev-loop: 1 of 2 variants passed, 1 failed\n  ✔ denyattach passed\n/)
  assert.match(failing.stdout, /  ✖ broken failed at build\n      build \(broken\) failed: build\/run\.sh make exited with code 2\n/)
  assert.match(failing.stdout, /To continue where it stopped: kspawn run dev-loop --resume\n/)
  assert.is(failing.stderr, '')

  const zero = await kspawn(['run', 'dev-loop', '--concurrency', '0'])
  assert.is(zero.exitCode, 2)
  assert.is(zero.stderr, '--concurrency must be a whole number of variants, 1 or more; found "0"\nSee: kspawn run --help\n')
})

test('--junit writes the run\'s junit.xml there too', async () => {
  await writeConfigFile(dir, ['denyattach', 'broken'])
  await mkdir(path.join(dir, 'ci'))
  const { exitCode } = await kspawn(['run', 'dev-loop', '--renderer', 'silent', '--junit', 'ci/junit.xml'])
  assert.is(exitCode, 1)
  const [run] = await readdir(path.join(dir, '.kspawn', 'runs'))
  const written = await readFile(path.join(dir, 'ci', 'junit.xml'), 'utf8')
  assert.is(written, await readFile(path.join(dir, '.kspawn', 'runs', run!, 'junit.xml'), 'utf8'))
  assert.match(written, /<testcase classname="kspawn\.broken\.steps" name="build" time="0">\n      <failure message="build \(broken\) failed: build\/run\.sh make exited with code 2" type="failed">/)
})

test('task runs one task for one variant, from the state that the latest run recorded', async () => {
  await writeConfigFile(dir)
  assert.is((await kspawn(['run', 'dev-loop', '--variant', 'denyattach', '--renderer', 'silent'])).exitCode, 0)

  const { exitCode, stdout } = await kspawn(['task', 'smoke-test', '--variant', 'denyattach', '--renderer', 'simple'])
  assert.is(exitCode, 0)
  assert.equal(seen, ['smoke-test denyattach on /var/lib/kube-spawn/denyattach/kubeconfig'])
  assert.match(stdout, /task-smoke-test: 1 of 1 variant passed\n/)
  const runs = await readdir(path.join(dir, '.kspawn', 'runs'))
  assert.equal(
    runs.map((name) => name.replace(/^\d{8}T\d{6}Z-/, '')),
    ['dev-loop', 'task-smoke-test'],
  )
})

const toolsFolder = (name: string, tools: string[]) => linkTools(path.join(dir, name), tools)

test('doctor reports each tool, says how to get kube-spawn when PATH lacks it, and exits 1', async () => {
  const bin = await toolsFolder('bin', ['bash', 'git', 'make', 'docker', 'kubectl'])
  await writeConfigFile(dir)
  const { exitCode, stdout } = await kspawn(['doctor'], { env: { PATH: bin } })

  assert.is(exitCode, 1)
  assert.match(stdout, /^What kspawn\.config\.mjs needs:\n/)
  assert.match(stdout, /  ✖ kube-spawn +missing — to create and start a cluster for each variant\n +download it from https:\/\/github\.com\/kinvolk\/kube-spawn\/releases and put it on PATH\n/)
  assert.match(stdout, /  ✔ kubectl +\S+\/bin\/kubectl — to run the smoke tests against the clusters\n/)
  assert.match(stdout, /  ✔ sudo +not needed, kspawn runs as root/)
  assert.match(stdout, /\nMissing: [^\n]*kube-spawn[^\n]*\.\n$/)
})

test('doctor without sudo, as a user who is not root, says how to get it', async () => {
  const { stdout } = await kspawn(['doctor'], { env: { PATH: path.join(dir, 'nothing') }, isRoot: false })
  assert.match(stdout, /^No config found; what a dev loop can need:\n/)
  for (const tool of ['git', 'docker', 'make', 'kube-spawn', 'kind', 'kubectl', 'sudo']) assert.match(stdout, new RegExp(`  ✖ ${tool} +missing — `))
  assert.match(stdout, /sudo apt-get install docker\.io\n/)
  assert.match(stdout, /sudo apt-get install kubernetes-client\n/)
  // With no deployer's tools at all, both deployers' count as missing.
  assert.match(stdout, /\nMissing: bash, git, docker, make, kube-spawn, kind, kubectl, docker daemon, sudo\.\n$/)
  // Without bash nothing can be asked: the daemon is not blamed for it.
  assert.match(stdout, /  ✖ bash +missing — kspawn runs every command through it \(zx\)\n/)
})

test('doctor without bash does not blame the Docker daemon', async () => {
  const bin = await toolsFolder('no-bash', ['git', 'make', 'docker', 'kubectl'])
  await writeFile(path.join(bin, 'kube-spawn'), '#!/bin/sh\n', { mode: 0o755 })
  const { stdout } = await kspawn(['doctor'], { env: { PATH: bin } })
  assert.match(stdout, /  ✖ bash +missing — /)
  assert.match(stdout, /  ✖ docker daemon +not checked: bash is missing — to build and keep the images\n +install bash first\n/)
  assert.not.match(stdout, /quote function|DOCKER_HOST/)
})

test("doctor without a config: a machine that has one deployer's tools lacks nothing of the other's", async () => {
  const bin = await toolsFolder('kube-spawn-only', ['bash', 'git', 'make', 'docker', 'kubectl'])
  await writeFile(path.join(bin, 'kube-spawn'), '#!/bin/sh\n', { mode: 0o755 })
  const { stdout } = await kspawn(['doctor'], { env: { PATH: bin } })
  assert.match(stdout, /^No config found; what a dev loop can need:\n/)
  assert.match(stdout, /  ✔ kube-spawn +\S+\/kube-spawn-only\/kube-spawn — /)
  assert.match(stdout, /  ○ kind +missing — to build node images and create a cluster for each variant \(kind v0\.26\.0 or later; v0\.32\.0 or later for Kubernetes 1\.36 and later\) \(needed only with kind; kube-spawn can run here\)\n +go install sigs\.k8s\.io\/kind@v0\.32\.0/)
  assert.not.match(stdout, /Missing: [^\n]*kind/)
  // What every deployer needs still counts, whatever the daemon says.
  assert.match(stdout, /  [✔✖] docker daemon /)
})

test('doctor for a kind config: kind and its version, no kube-spawn, no sudo', async () => {
  const bin = await toolsFolder('old-kind', ['bash', 'git', 'make', 'docker', 'kubectl'])
  // A kind from before v0.26.0, as it prints its version.
  await writeFile(path.join(bin, 'kind'), '#!/bin/sh\necho "kind v0.25.0 go1.22.9 linux/amd64"\n', { mode: 0o755 })
  await writeFile(
    path.join(dir, 'kspawn.config.mjs'),
    `export default {
  kubernetes: { checkout: './kubernetes' },
  deployer: { kind: 'deployer', name: 'kind', options: {} },
  variants: { web: { source: { remote: 'https://github.com/kubernetes/kubernetes', branch: 'master' }, tag: 'v1' } },
}
`,
  )
  const missing = await kspawn(['doctor'], { env: { PATH: path.join(dir, 'nothing') }, isRoot: false })
  assert.is(missing.exitCode, 1)
  assert.match(missing.stdout, /^What kspawn\.config\.mjs needs:\n/)
  assert.match(missing.stdout, /  ✖ kind +missing — /)
  assert.match(missing.stdout, /  ✖ make +missing — to build Kubernetes \(kind build node-image runs the tree's make quick-release-images\)/)
  assert.not.match(missing.stdout, /kube-spawn|✖ sudo|✔ sudo/)

  const old = await kspawn(['doctor'], { env: { PATH: bin } })
  assert.is(old.exitCode, 1)
  assert.match(old.stdout, /  ✔ kind +\S+\/old-kind\/kind — /)
  assert.match(old.stdout, /  ✖ kind version +0\.25\.0 — at least 0\.26\.0: kspawn passes the Kubernetes tree to kind build node-image as its argument, which kind takes since v0\.26\.0 \(--kube-root is gone\)\n +go install sigs\.k8s\.io\/kind@v0\.32\.0/)
  assert.match(old.stdout, /\nMissing: [^\n]*kind version[^\n]*\.\n$/)
  await writeFile(path.join(bin, 'kind'), '#!/bin/sh\necho "kind v0.32.0 go1.26.3 linux/amd64"\n', { mode: 0o755 })
  const current = await kspawn(['doctor'], { env: { PATH: bin } })
  assert.match(current.stdout, /  ✔ kind version +0\.32\.0 — /)
})

/** A config of plain data, with `variant` as its one variant and `top` added at its top level. */
async function writeDataConfig(folder: string, variant: string, deployer = `{ kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' } }`, checkout = './kubernetes', more = '') {
  await writeFile(
    path.join(folder, 'kspawn.config.mjs'),
    ['export default {', `  kubernetes: { checkout: ${JSON.stringify(checkout)} },`, `  deployer: ${deployer},`, `  variants: { ${variant} },`, more, '}', ''].join('\n'),
  )
}

// Bad input, as people type it: each is refused with exit 2 and a message that names the argument or field,
// what was expected and what was found, before anything runs or is written.
const badInput: { name: string; argv: string[]; config?: (folder: string) => Promise<unknown>; stderr: string | RegExp }[] = [
  { name: '--variant without a value', argv: ['run', 'dev-loop', '--variant'], stderr: '--variant needs a value, e.g. --variant denyattach\nSee: kspawn run --help\n' },
  { name: '--config without a value', argv: ['list', '--config'], stderr: '--config needs a value, e.g. --config kspawn.config.ts\nSee: kspawn list --help\n' },
  { name: '--renderer without a value', argv: ['run', 'dev-loop', '--renderer'], stderr: '--renderer needs a value, e.g. --renderer simple\nSee: kspawn run --help\n' },
  {
    name: 'a task for two variants',
    argv: ['task', 'build', '--variant', 'denyattach', '--variant', 'denyattachfix'],
    stderr: 'kspawn task runs a task for one variant: give --variant once, found denyattach, denyattachfix (kspawn run <workflow> --variant denyattach --variant denyattachfix runs several)\nSee: kspawn task --help\n',
  },
  { name: '--config naming an absolute path that is not there', argv: ['list', '--config', '/nonexistent/kspawn.config.ts'], stderr: '/nonexistent/kspawn.config.ts: no such file\n' },
  { name: '--concurrency that is not a number', argv: ['run', 'dev-loop', '--concurrency', 'abc'], stderr: '--concurrency must be a whole number of variants, 1 or more; found "abc"\nSee: kspawn run --help\n' },
  { name: 'an unknown variant', argv: ['run', 'dev-loop', '--variant', 'nope'], stderr: /^unknown variant "nope": \S+kspawn\.config\.mjs has the variants denyattach, denyattachfix\n$/ },
  { name: 'a mistyped command', argv: ['rnu', 'dev-loop'], stderr: 'unknown command "rnu": did you mean run?\nSee: kspawn --help\n' },
  // Several problems on one line: all of them at once, those yargs finds first, then the command's own.
  {
    name: 'an unknown variant and an unknown option',
    argv: ['run', 'dev-loop', '--variant', 'nosuch', '--bogus-flag'],
    stderr: /^2 problems, so nothing was run:\n  - unknown option --bogus-flag: kspawn run takes --config, --variant, --concurrency, --recreate, --no-cache, --dry-run, --resume, --teardown, --renderer, --progress-interval, --junit\n  - unknown variant "nosuch": \S+kspawn\.config\.mjs has the variants denyattach, denyattachfix\nSee: kspawn run --help\n$/,
  },
  {
    name: 'a progress interval that is not seconds',
    argv: ['run', 'dev-loop', '--progress-interval', 'soon'],
    stderr: '--progress-interval must be a number of seconds, 0 or more (0: no progress lines); found "soon"\nSee: kspawn run --help\n',
  },
  { name: 'no workflow', argv: ['run'], stderr: 'name the workflow to run: one of dev-loop, share (kspawn list shows them)\n' },
  {
    name: 'two options without their value',
    argv: ['run', 'dev-loop', '--variant', '--renderer'],
    stderr: '2 problems, so nothing was run:\n  - --renderer needs a value, e.g. --renderer simple\n  - --variant needs a value, e.g. --variant denyattach\nSee: kspawn run --help\n',
  },
  {
    name: 'a misspelt option, a value not among the choices, a bad --concurrency and an unknown workflow',
    argv: ['run', 'dev-lop', '--dryrun', '--renderer', 'fancy', '--concurrency', '0'],
    stderr: [
      '4 problems, so nothing was run:',
      '  - unknown option --dryrun: did you mean --dry-run?',
      '  - --renderer must be one of default, simple, verbose, silent, json; found "fancy"',
      '  - --concurrency must be a whole number of variants, 1 or more; found "0"',
      '  - unknown workflow "dev-lop": the workflows are dev-loop, share (kspawn list shows them)',
      'See: kspawn run --help',
      '',
    ].join('\n'),
  },
  {
    name: 'no workflow, and a config that cannot be loaded',
    argv: ['run', '--bogus', '-x'],
    config: (folder) => writeDataConfig(folder, `web: { image: 'r/h:v1' }`, `{ kind: 'deployer', name: 'kube-spawn', options: { nodes: 1000, dir: '/var/lib/kube-spawn', sudo: 'auto' } }`),
    stderr: [
      '3 problems, so nothing was run:',
      '  - unknown options --bogus, -x: kspawn run takes --config, --variant, --concurrency, --recreate, --no-cache, --dry-run, --resume, --teardown, --renderer, --progress-interval, --junit',
      '  - name the workflow to run: one of dev-loop, share (kspawn list shows them)',
      '  - the config could not be loaded: kspawn.config.mjs: deployer.options.nodes: expected a number of machines from 1 to 20 (each is a machine on this computer), found 1000',
      'See: kspawn run --help',
      '',
    ].join('\n'),
  },
  {
    name: 'a task for two variants, both unknown, and no task',
    argv: ['task', '--variant', 'a', '--variant', 'b'],
    stderr: /^3 problems, so nothing was run:\n  - kspawn task runs a task for one variant: give --variant once, found a, b \(kspawn run <workflow> --variant a --variant b runs several\)\n  - unknown variants "a", "b": \S+kspawn\.config\.mjs has the variants denyattach, denyattachfix\n  - name the task to run: one of fetch-source, build, cluster-up, smoke-test, image, use-image \(kspawn list shows them\)\nSee: kspawn task --help\n$/,
  },
  {
    name: 'an unknown task and no variant',
    argv: ['task', 'bild'],
    stderr: '2 problems, so nothing was run:\n  - name the variant to run bild for with --variant: one of denyattach, denyattachfix\n  - unknown task "bild": the tasks are fetch-source, build, cluster-up, smoke-test, image, use-image (kspawn list shows them)\n',
  },
  {
    name: 'pr without its URL, and an option without its value',
    argv: ['pr', '--smoke'],
    stderr: '2 problems, so nothing was run:\n  - --smoke needs a value, e.g. --smoke denyattach\n  - name the pull request, commit or branch to build: https://github.com/OWNER/REPO/pull/N, OWNER/REPO#N, .../commit/SHA or .../tree/BRANCH\nSee: kspawn pr --help\n',
  },
  { name: 'an option list does not take', argv: ['list', '--all'], stderr: 'unknown option --all: kspawn list takes --config, --json\nSee: kspawn list --help\n' },
  { name: 'a word doctor does not take', argv: ['doctor', 'now'], stderr: 'unexpected argument "now"\nSee: kspawn doctor --help\n' },
  {
    name: "a checkout under another user's home, which kspawn does not expand",
    argv: ['list'],
    config: (folder) => writeDataConfig(folder, `web: { image: 'r/h:v1' }`, undefined, '~bob/go/src/k8s.io/kubernetes'),
    stderr: 'kspawn.config.mjs: kubernetes.checkout: expected the path of your Kubernetes checkout, found "~bob/go/src/k8s.io/kubernetes" (it starts with ~bob, which kspawn does not expand: give the full path (~/ is your own home folder))\n',
  },
  {
    name: 'a thousand machines',
    argv: ['list'],
    config: (folder) => writeDataConfig(folder, `web: { image: 'r/h:v1' }`, `{ kind: 'deployer', name: 'kube-spawn', options: { nodes: 1000, dir: '/var/lib/kube-spawn', sudo: 'auto' } }`),
    stderr: 'kspawn.config.mjs: deployer.options.nodes: expected a number of machines from 1 to 20 (each is a machine on this computer), found 1000\n',
  },
  {
    name: 'a remote with a password, which is not echoed',
    argv: ['list'],
    config: (folder) => writeDataConfig(folder, `web: { source: { remote: 'https://alban:hunter2@github.com/kinvolk/kubernetes', branch: 'x' }, tag: 'v1' }`),
    stderr: 'kspawn.config.mjs: variants.web.source.remote: expected a git remote (https://…, ssh://…, user@host:path, file://… or a path), found "https://alban:***@github.com/kinvolk/kubernetes" (it contains a password)\n',
  },
  {
    name: '--junit in a folder that does not exist',
    argv: ['run', 'dev-loop', '--junit', 'nosuch/report.xml'],
    stderr: /^--junit nosuch\/report\.xml: its folder \S+\/nosuch does not exist\nSee: kspawn run --help\n$/,
  },
  {
    name: '--junit naming a folder, with another problem',
    argv: ['task', 'build', '--variant', 'nosuch', '--junit', '.'],
    stderr: /^2 problems, so nothing was run:\n  - --junit \.: \S+ is a folder; name a file in it, e\.g\. --junit junit\.xml\n  - unknown variant "nosuch": /,
  },
  {
    name: '--junit of kspawn pr, before GitHub is asked',
    argv: ['pr', 'kubernetes/kubernetes#1', '--junit', 'nosuch/report.xml'],
    stderr: /^--junit nosuch\/report\.xml: its folder \S+\/nosuch does not exist\nSee: kspawn pr --help\n$/,
  },
  {
    name: 'a workdir that cannot be made (under a file)',
    argv: ['run', 'dev-loop'],
    config: (folder) => writeDataConfig(folder, `web: { image: 'r/h:v1' }`, undefined, undefined, `  workdir: './kspawn.config.mjs/work',`),
    stderr: /^cannot write kspawn's workdir \S+\/kspawn\.config\.mjs\/work \(mkdir \S+\/kspawn\.config\.mjs\/work\/runs failed: ENOTDIR\): it holds the runs, worktrees and cluster records; set workdir in \S+kspawn\.config\.mjs to a folder you can write\n$/,
  },
]

test('bad input: exit 2, the argument or field named with what was expected and found, nothing run or written', async () => {
  for (const [index, { name, argv, config, stderr }] of badInput.entries()) {
    // A folder of its own: a config file of the same path would be loaded from the module cache.
    const folder = path.join(dir, `case${index}`)
    await mkdir(folder)
    if (config) await config(folder)
    else await writeConfigFile(folder)
    const before = (await readdir(folder)).sort()
    seen.length = 0
    const result = await kspawn(argv, { cwd: folder })
    assert.is(result.exitCode, 2, `${name}: ${result.stderr}`)
    if (typeof stderr === 'string') assert.is(result.stderr, stderr, name)
    else assert.match(result.stderr, stderr, name)
    assert.not.match(result.stderr, 'hunter2', `${name}: no password shown`)
    assert.is(result.stdout, '', name)
    assert.equal(seen, [], `${name}: no task ran`)
    assert.equal((await readdir(folder)).sort(), before, `${name}: nothing written`)
  }
})

test.run()
