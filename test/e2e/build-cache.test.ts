// The build cache end to end with kube-spawn, in the test world: its Docker
// engine, its registry standing for a team's, and separate folders, each with
// its own checkout and workdir, standing for separate machines. What is
// asserted is what a user sees and what the systems say: the commands that
// ran (the run's events), the summary, the registry's own tag list, the
// labels the engine reports, what the restored kubelet and the cluster's API
// server report, and that the credentials of `docker login` appear nowhere.
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import { suite } from '../suite.ts'
import { branches, messages, must, sh, world, type Result } from '../world/harness.ts'
import { worldRepos } from '../world/github/repos.ts'
import { startGitHub, type GitHub } from '../world/github/server.ts'
import { kspawn, summaryOf, writeConfig } from './project.ts'

const test = suite('build cache')

const HYPERKUBE = 'gcr.io/google-containers/hyperkube-amd64'
const USER = 'kspawn-cache-user'
const PASSWORD = 's3cret-Cache-Pa55'
const AUTH = Buffer.from(`${USER}:${PASSWORD}`).toString('base64')

let root = ''
let dockerConfig = ''
let repository = ''
let github: GitHub | undefined
/** Everything kspawn printed, checked for the credentials at the end. */
const seen: string[] = []
/** What the first run built: its run id, the variant that built, the key, the gitVersion. */
const built = { run: '', variant: '', key: '', gitVersion: '' }

interface Machine {
  home: string
  config: string
  workdir: string
}
const machines: Machine[] = []

/** A folder standing for a machine: its own checkout (a clone of upstream) and workdir, and a config using the cache. */
async function machine(name: string, variants: string[], cache = repository): Promise<Machine> {
  const home = join(root, name)
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  const workdir = join(home, 'work')
  const config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir,
    variants,
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
    cache,
  })
  const made = { home, config, workdir }
  machines.push(made)
  return made
}

const variant = (name: string, cluster: string) =>
  `${name}: { source: { remote: ${JSON.stringify(world().KSPAWN_WORLD_FORK)}, branch: ${JSON.stringify(branches.denyattach)} }, tag: 'v1.8.5-beta.0-bc-${name}', cluster: '${cluster}' }`

/** kspawn with the cache on (the test runner turns it off for other suites) and the docker login of this suite. */
async function cached(at: Machine, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const result = await kspawn(at.home, [...args, '--config', at.config], { KSPAWN_NO_CACHE: '', DOCKER_CONFIG: dockerConfig, ...env })
  seen.push(result.output)
  return result
}

function passed(result: Result): Result {
  assert.is(result.exitCode, 0, result.output.slice(-5000))
  return result
}

function runDir(result: Result): string {
  const dir = /^Run folder: (\S+)$/m.exec(result.stdout)?.[1]
  assert.ok(dir, `the summary names the run folder:\n${result.stdout.slice(-2000)}`)
  return dir
}

interface Cmd {
  step: string
  variant: string
  commandLine: string
}

/** The commands the run ran, as its event log recorded them. */
async function commands(result: Result): Promise<Cmd[]> {
  const lines = (await readFile(join(runDir(result), 'events.jsonl'), 'utf8')).split('\n').filter(Boolean)
  return lines.map((line) => JSON.parse(line) as Cmd & { kind: string }).filter((event) => event.kind === 'cmd')
}

const ran = (cmds: Cmd[], pattern: RegExp, variant?: string) => cmds.filter((cmd) => pattern.test(cmd.commandLine) && (variant === undefined || cmd.variant === variant))
const BUILD = /^build\/run\.sh make$/
const IMAGE = /^make -C cluster\/images\/hyperkube /

/** The gitVersion the cluster's API server reported, as the summary shows it. */
function serverVersion(summary: string): string {
  const version = /serverVersion\.gitVersion: (\S+)/.exec(summary)?.[1]
  assert.ok(version, `the summary shows what the API server reported:\n${summary}`)
  return version
}

async function labels(image: string): Promise<Record<string, string>> {
  const inspect = await must(['docker', 'image', 'inspect', '--format', '{{json .Config.Labels}}', image])
  return JSON.parse(inspect.stdout) as Record<string, string>
}

/** The registry's own list of the tags of <repository>/<name>. */
async function registryTags(name: string): Promise<string[]> {
  const [host, ...path] = repository.split('/')
  const response = await fetch(`http://${host}/v2/${path.join('/')}/${name}/tags/list`)
  if (response.status === 404) return []
  return ((await response.json()) as { tags?: string[] }).tags ?? []
}

const local = (name = 'hyperkube-amd64') => `kspawn-cache/${name}:${built.key}`
const remote = (name = 'hyperkube-amd64') => `${repository}/${name}:${built.key}`

/** Removes the tags of images, ignoring those the engine does not have. */
async function untag(...images: string[]): Promise<void> {
  for (const image of images) await sh(['docker', 'image', 'rm', image])
}

test.before(async () => {
  // The suite starts with an engine that has no kube-spawn entries (an earlier run of it may have left some).
  for (const name of ['hyperkube-amd64', 'kube-binaries']) {
    const entries = await must(['docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `kspawn-cache/${name}`])
    await untag(...entries.stdout.split('\n').filter(Boolean))
  }
  root = await mkdtemp(join(tmpdir(), 'kspawn-cache-'))
  repository = `${world().KSPAWN_WORLD_REGISTRY}/kspawn-e2e-${process.pid}-${Date.now().toString(36)}`
  // Docker's own login, as a team's registry needs: kspawn never reads it.
  dockerConfig = join(root, 'docker')
  await mkdir(dockerConfig)
  await must(['docker', 'login', '--username', USER, '--password-stdin', world().KSPAWN_WORLD_REGISTRY], { env: { DOCKER_CONFIG: dockerConfig }, input: `${PASSWORD}\n` })
})

test.after(async () => {
  await github?.close()
  for (const at of machines) await kspawn(at.home, ['down', '--all', '--config', at.config])
  const ours = await sh(['docker', 'image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
  const tags = ours.stdout.split('\n').filter((tag) => tag.includes('-bc-') || (built.key !== '' && tag.endsWith(built.key)))
  await untag(...tags)
  if (root) await rm(root, { recursive: true, force: true })
})

test('two variants on one commit in one run: one builds, the other waits and takes its build; the build is pushed to the registry', async () => {
  const a = await machine('a', [variant('one', 'bcone'), variant('two', 'bctwo')])
  const result = passed(await cached(a, ['run', 'dev-loop']))
  const cmds = await commands(result)
  const builds = ran(cmds, BUILD)
  assert.is(builds.length, 1, `build/run.sh make ran once:\n${cmds.map((cmd) => cmd.commandLine).join('\n')}`)
  assert.is(ran(cmds, IMAGE).length, 1, 'the hyperkube image was made once')
  built.variant = builds[0]!.variant
  built.run = runDir(result).split('/').pop()!
  const other = built.variant === 'one' ? 'two' : 'one'

  const builder = summaryOf(result.stdout, built.variant)
  const taker = summaryOf(result.stdout, other)
  assert.match(builder, `build: built in this run (${built.run})`)
  assert.match(taker, `build: reused the build of run ${built.run}, variant ${built.variant} (kspawn-cache/hyperkube-amd64:`)
  assert.match(result.output, `build (${other}): variant ${built.variant} is building the same tree`)

  // What the systems say: both clusters run the same build, and the reused binaries report it.
  built.gitVersion = serverVersion(builder)
  assert.is(serverVersion(taker), built.gitVersion)
  const kubelet = join(a.workdir, 'worktrees', other, 'src', 'k8s.io', 'kubernetes', '_output', 'dockerized', 'bin', 'linux', 'amd64', 'kubelet')
  assert.is((await must([kubelet, '--version'])).stdout.trim(), `Kubernetes ${built.gitVersion}`)

  const label = await labels(`${HYPERKUBE}:v1.8.5-beta.0-bc-${other}`)
  built.key = label['io.kspawn.build-key'] ?? ''
  assert.match(built.key, /^[0-9a-f]{64}$/, `the image carries its key: ${JSON.stringify(label)}`)
  assert.is(label['io.kspawn.git-version'], built.gitVersion)
  assert.is(label['io.kspawn.built-by'], `run ${built.run}, variant ${built.variant}`)
  assert.equal(await registryTags('hyperkube-amd64'), [built.key], 'the registry holds the image under its key')
  assert.equal(await registryTags('kube-binaries'), [built.key], 'and the binaries the machines get')
  assert.equal((await labels(local('kube-binaries')))['io.kspawn.build-key'], built.key)
  // The image the cluster runs (and `share` pushes) is what the make put in it, labelled: the binaries are apart.
  const lean = await sh(['docker', 'run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', `${HYPERKUBE}:v1.8.5-beta.0-bc-${other}`, '-c', 'ls /kspawn'])
  assert.is.not(lean.exitCode, 0, `the image holds no /kspawn: ${lean.output}`)
})

test('kspawn pr of a commit already built as a variant: built no more', async () => {
  const repos = await worldRepos(join(root, 'remotes'))
  github = await startGitHub({
    repos: repos.repos,
    pulls: [{ number: 201, base: { repo: 'kubernetes/kubernetes', ref: 'master' }, head: { repo: 'kinvolk/kubernetes', ref: branches.denyattach }, title: 'Add DenyAttach' }],
    webUrl: 'self',
  })
  const a = machines[0]!
  const result = passed(await cached(a, ['pr', 'kubernetes/kubernetes#201', '--github-api', github.url, '--cluster', 'bcpr', '--tag', 'v1.8.5-beta.0-bc-pr'], { GITHUB_TOKEN: '', GH_TOKEN: '', GH_CONFIG_DIR: join(root, 'no-gh') }))
  const cmds = await commands(result)
  assert.equal(ran(cmds, BUILD), [], 'no build ran')
  assert.equal(ran(cmds, IMAGE), [], 'no image was made')
  const summary = summaryOf(result.stdout, 'bcpr')
  assert.match(summary, `build: reused the build of run ${built.run}, variant ${built.variant}`)
  assert.is(serverVersion(summary), built.gitVersion)
})

test('another machine: the build is pulled from the registry, nothing is built, and the cluster runs it', async () => {
  // What the first machine has is gone from this engine: only the registry can serve.
  for (const at of machines) passed(await kspawn(at.home, ['down', '--all', '--config', at.config]))
  await untag(local(), remote(), local('kube-binaries'), remote('kube-binaries'), `${HYPERKUBE}:v1.8.5-beta.0-bc-one`, `${HYPERKUBE}:v1.8.5-beta.0-bc-two`, `${HYPERKUBE}:v1.8.5-beta.0-bc-pr`)
  assert.is((await sh(['docker', 'image', 'inspect', local()])).exitCode, 1, 'the local entry is gone')

  const b = await machine('b', [variant('bee', 'bcbee')])
  const result = passed(await cached(b, ['run', 'dev-loop']))
  const cmds = await commands(result)
  assert.equal(ran(cmds, BUILD), [], 'no build ran')
  assert.equal(ran(cmds, IMAGE), [], 'no image was made')
  assert.equal(
    ran(cmds, /^docker pull /).map((cmd) => cmd.commandLine),
    [`docker pull ${remote()}`, `docker pull ${remote('kube-binaries')}`],
  )
  const summary = summaryOf(result.stdout, 'bee')
  assert.match(summary, `build: pulled from the cache ${repository}/hyperkube-amd64:${built.key.slice(0, 12)}… (built by run ${built.run}, variant ${built.variant})`)
  assert.match(summary, /✔ attach is denied/)
  assert.is(serverVersion(summary), built.gitVersion, 'the cluster runs the pulled build')
  assert.match(result.stdout, /Make the image \S+ \(bee\) \[SKIPPED: \S+ came with the build: pulled from the cache/)
})

/** Pushes under the build's key an image made from the good image entry with another gitVersion label; no local copy is left. */
async function pushMislabelled(gitVersion: string): Promise<void> {
  await must(['docker', 'pull', remote()])
  await must(['docker', 'build', '--label', `io.kspawn.git-version=${gitVersion}`, '--tag', remote(), '-'], { input: `FROM ${remote()}\n` })
  await must(['docker', 'push', remote()], { env: { DOCKER_CONFIG: dockerConfig } })
  await untag(remote(), local(), local('kube-binaries'))
}

/** Pushes under the build's key a binaries entry, labelled as a good one, that holds the files of `dir` but `left out`. */
async function pushIncompleteBinaries(dir: string, leftOut: string): Promise<void> {
  const context = join(root, 'incomplete')
  await mkdir(context, { recursive: true })
  for (const name of ['hyperkube', 'kubelet', 'kubeadm', 'kubectl'].filter((name) => name !== leftOut)) await copyFile(join(dir, name), join(context, name))
  const labelled = ['--label', `io.kspawn.build-key=${built.key}`, '--label', `io.kspawn.git-version=${built.gitVersion}`]
  await must(['docker', 'build', ...labelled, '--tag', remote('kube-binaries'), '--file', '-', context], { input: 'FROM scratch\nCOPY . /kspawn/bin/\n' })
  await must(['docker', 'push', remote('kube-binaries')], { env: { DOCKER_CONFIG: dockerConfig } })
  await untag(remote('kube-binaries'), local('kube-binaries'), local())
}

/** Runs fetch-source, build and image for the variant, after removing what would let the build be skipped. */
async function buildAgain(at: Machine, name: string, extra: string[] = []): Promise<{ build: Result; image: Result; cmds: Cmd[] }> {
  await rm(join(at.workdir, 'worktrees', name, 'src', 'k8s.io', 'kubernetes', '_output', 'kspawn-build.json'), { force: true })
  passed(await cached(at, ['task', 'fetch-source', '--variant', name]))
  const build = await cached(at, ['task', 'build', '--variant', name, ...extra])
  const image = await cached(at, ['task', 'image', '--variant', name, ...extra])
  return { build, image, cmds: [...(await commands(build)), ...(await commands(image))] }
}

test('a mislabelled entry (its label says another gitVersion than its hyperkube reports) is rejected, built again and replaced in the registry', async () => {
  await pushMislabelled('v0.0.0-wrong')
  const c = await machine('c', [variant('sea', 'bcsea')])
  const { build, image, cmds } = await buildAgain(c, 'sea')
  passed(build)
  passed(image)
  assert.match(build.output, `the build cache's ${repository}/hyperkube-amd64:${built.key.slice(0, 12)}… is not the build of this tree (its label says gitVersion v0.0.0-wrong, but what it holds reports ${built.gitVersion})`)
  assert.is(ran(cmds, BUILD).length, 1, 'it was built')
  assert.match(image.output, `pushed the build to the cache: ${remote()}`)
  await untag(remote())
  await must(['docker', 'pull', remote()])
  assert.is((await labels(remote()))['io.kspawn.git-version'], built.gitVersion, 'the registry now holds a good entry')
})

test('a corrupted entry (no kubelet in it) is rejected and built again', async () => {
  const c = machines.find((at) => at.home.endsWith('/c'))!
  const output = join(c.workdir, 'worktrees', 'sea', 'src', 'k8s.io', 'kubernetes', '_output', 'dockerized', 'bin', 'linux', 'amd64')
  await pushIncompleteBinaries(output, 'kubelet')
  const { build, cmds } = await buildAgain(c, 'sea')
  passed(build)
  assert.match(build.output, `the cached build kspawn-cache/kube-binaries:${built.key} cannot serve (it has no /kspawn/bin/kubelet): building instead`)
  assert.is(ran(cmds, BUILD).length, 1, 'it was built')
  const kubelet = join(output, 'kubelet')
  assert.is((await must([kubelet, '--version'])).stdout.trim(), `Kubernetes ${built.gitVersion}`)
})

test('--no-cache builds and looks nothing up; a registry that does not answer is a warning, and the build goes on', async () => {
  const c = machines.find((at) => at.home.endsWith('/c'))!
  const off = await buildAgain(c, 'sea', ['--no-cache'])
  passed(off.build)
  passed(off.image)
  assert.is(ran(off.cmds, BUILD).length, 1, 'it was built')
  assert.equal(ran(off.cmds, /kspawn-cache|docker (pull|push)/), [], 'nothing was looked up or pushed')

  // A machine whose engine has no entry for the tree, so that only that registry could serve it.
  await untag(local(), local('kube-binaries'))
  const d = await machine('d', [variant('dee', 'bcdee')], '127.0.0.1:9/kspawn-cache')
  const { build, image, cmds } = await buildAgain(d, 'dee')
  passed(build)
  passed(image)
  assert.is(ran(cmds, BUILD).length, 1, 'it was built')
  assert.match(build.output, /the build cache 127\.0\.0\.1:9 could not be read \(.*connection refused.*\): building instead/)
  assert.match(image.output, /could not push the build to the cache 127\.0\.0\.1:9 \(.*\): the run goes on/)
})

test("the registry's credentials (docker login) appear in no output and no file kspawn wrote", async () => {
  const stored = await readFile(join(dockerConfig, 'config.json'), 'utf8')
  assert.ok(stored.includes(AUTH), 'docker login stored the credentials that the runs used')
  const files: string[] = []
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const file = join(dir, entry.name)
      if (entry.isDirectory()) await walk(file)
      else if (entry.isFile()) files.push(file)
    }
  }
  for (const at of machines) await walk(join(at.workdir, 'runs'))
  assert.ok(files.length > 10, `the runs wrote their logs: ${files.length} files`)
  for (const text of [...seen, ...(await Promise.all(files.map((file) => readFile(file, 'utf8'))))]) {
    assert.not.match(text, PASSWORD)
    assert.not.match(text, AUTH)
  }
})

test.run()
