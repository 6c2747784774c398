// The fixture Kubernetes tree, as a developer following the workflow sees
// it: the repositories, `build/run.sh make` in a worktree, the build knobs,
// and `make -C cluster/images/hyperkube` against the world's Docker engine.
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { world } from './harness.ts'
import { BRANCHES, UPSTREAM_TAG, fixturePaths, generateFixture, type FixturePaths } from './fixture/generate.ts'

// The image tests need the world's engine; harness.world() says how to start it when it is not up.
process.env.DOCKER_HOST ??= world().DOCKER_HOST

const ARTIFACTS = ['hyperkube', 'kubeadm', 'kubelet', 'kubectl'] as const
const BIN = '_output/dockerized/bin/linux/amd64'
const BRANCH_VERSION = /^v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}$/
const IMAGE_VERSION = `fixture-test-${process.pid}`
const IMAGE = `gcr.io/google-containers/hyperkube-amd64:${IMAGE_VERSION}`

interface AdmissionPlugin {
  name: string
  denies: string[]
  message: string
}

interface BuildInfo {
  component: string
  gitVersion: string
  gitCommit: string
  gitTreeState: string
  major: string
  minor: string
  buildDate: string
  admissionPlugins: AdmissionPlugin[]
  kubeadmSourceDigest: string
}

interface Result {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  stdoutBytes: number
}

interface RunOptions {
  cwd: string
  env?: Record<string, string>
  /** Count stdout bytes without keeping them (for large outputs). */
  countOnly?: boolean
  timeoutMs?: number
}

/** The environment of every child: nothing inherited that steers git or the build. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('GIT_') && !key.startsWith('KSPAWN_WORLD_BUILD_')) env[key] = value
  }
  return { ...env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', ...extra }
}

function run(cmd: string, args: string[], opts: RunOptions): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let stdoutBytes = 0
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length
      if (!opts.countOnly) out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        stdoutBytes,
      })
    })
  })
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await run('git', args, { cwd })
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${r.stderr}`)
  return r.stdout.trim()
}

function build(worktree: string, env: Record<string, string> = {}, countOnly = false): Promise<Result> {
  return run(path.join(worktree, 'build/run.sh'), ['make'], { cwd: worktree, env, countOnly })
}

async function buildInfo(worktree: string, artifact: string): Promise<BuildInfo> {
  const r = await run(path.join(worktree, BIN, artifact), ['--build-info'], { cwd: worktree })
  assert.is(r.code, 0, `${artifact} --build-info: ${r.stderr}`)
  assert.is(r.stdout.trim().split('\n').length, 1, `${artifact} --build-info prints one line`)
  return JSON.parse(r.stdout) as BuildInfo
}

/**
 * `kubeadm init` of a build, in a throwaway container with the hostname
 * Fixture-Host (it writes /etc/kubernetes): what it printed and the kubelet's
 * kubeconfig it wrote. Without an API server it then waits: the container
 * ends once the kubeconfig is there.
 */
async function kubeadmInit(worktree: string): Promise<{ output: string; kubeletConf: string }> {
  const script = [
    '/kubeadm init >/tmp/init.out 2>&1 &',
    'while [ ! -s /etc/kubernetes/kubelet.conf ]; do sleep 0.1; done',
    'cat /tmp/init.out; echo ===; cat /etc/kubernetes/kubelet.conf',
  ].join('\n')
  const kubeadm = path.join(worktree, BIN, 'kubeadm')
  const r = await run('docker', ['run', '--rm', '--network', 'none', '--hostname', 'Fixture-Host', '-v', `${kubeadm}:/kubeadm:ro`, 'busybox:latest', 'sh', '-c', script], {
    cwd: worktree,
  })
  assert.is(r.code, 0, r.stderr)
  const [output = '', kubeletConf = ''] = r.stdout.split('===\n')
  return { output, kubeletConf }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  )
}

async function workspaceStatus(worktree: string): Promise<Map<string, string>> {
  const r = await run(path.join(worktree, 'hack/print-workspace-status.sh'), [], { cwd: worktree })
  assert.is(r.code, 0, r.stderr)
  return new Map(r.stdout.trim().split('\n').map((line) => [line.split(' ')[0] ?? '', line.slice(line.indexOf(' ') + 1)]))
}

interface Proc {
  pid: number
  ppid: number
  pgid: number
  comm: string
}

/** Every process of the machine, from /proc. */
async function processes(): Promise<Proc[]> {
  const procs: Proc[] = []
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    const close = stat.lastIndexOf(')')
    if (close < 0) continue
    const fields = stat.slice(close + 2).split(' ')
    procs.push({
      pid: Number(entry),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
    })
  }
  return procs
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let tmp = ''
let fx: FixturePaths | undefined
let tagCommit = ''

/** The fixture the first test generated, or a failure that says it is missing. */
function fixture(): FixturePaths {
  if (!fx) assert.unreachable('no fixture: the test "generates the fixture with the documented layout" did not pass')
  return fx!
}
const worktrees: Record<string, string> = {}
const infos: Record<string, BuildInfo> = {}

/** A worktree of the user checkout at ref, the way kspawn builds branches. */
async function worktree(name: string, ref: string): Promise<string> {
  const dir = path.join(tmp, 'worktrees', name)
  await git(fixture().checkout, 'worktree', 'add', '--quiet', '--detach', dir, ref)
  worktrees[name] = dir
  return dir
}

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kspawn-fixture-test-'))
})

test.after(async () => {
  await run('docker', ['rmi', '--force', IMAGE], { cwd: tmp })
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

test('generates the fixture with the documented layout', async () => {
  const root = path.join(tmp, 'root')
  const generated = await generateFixture(root)
  assert.equal(generated, fixturePaths(root))
  assert.equal(generated, {
    upstream: path.join(root, 'remotes/kubernetes.git'),
    fork: path.join(root, 'remotes/kinvolk-kubernetes.git'),
    gopath: path.join(root, 'gopath'),
    checkout: path.join(root, 'gopath/src/k8s.io/kubernetes'),
    branches: {
      denyattach: 'alban/v1.8.5-beta.0-denyattach',
      denyattachfix: 'alban/v1.8.5-beta.0-denyattachfix',
      kubeadm: 'alban/v1.8.5-beta.0-kubeadm-nodename',
    },
    upstreamTag: 'v1.8.5-beta.0',
  })
  assert.is(await git(generated.upstream, 'rev-parse', '--is-bare-repository'), 'true')
  assert.is(await git(generated.fork, 'rev-parse', '--is-bare-repository'), 'true')
  tagCommit = await git(generated.upstream, 'rev-parse', `${UPSTREAM_TAG}^{commit}`)
  fx = generated
})

test('generating again reuses a complete fixture; a new root gets the same SHAs', async () => {
  const refs = await git(fixture().fork, 'for-each-ref')
  // Regenerating would remove remotes/: a file left there shows it was not.
  const sentinel = path.join(fixture().upstream, 'left-by-the-test')
  await fs.writeFile(sentinel, 'kept\n')
  assert.equal(await generateFixture(path.join(tmp, 'root')), fixture())
  assert.ok(await exists(sentinel), 'a complete fixture is returned without regenerating it')
  await fs.rm(sentinel)
  assert.is(await git(fixture().fork, 'for-each-ref'), refs)

  // A root left half-done by an interrupted run is regenerated.
  const other = path.join(tmp, 'other-root')
  await fs.mkdir(path.join(other, 'remotes/kubernetes.git'), { recursive: true })
  await fs.writeFile(path.join(other, 'remotes/kubernetes.git/HEAD'), 'garbage\n')
  const again = await generateFixture(other)
  assert.is(await git(again.fork, 'for-each-ref'), refs)
  assert.is(await git(again.upstream, 'for-each-ref'), await git(fixture().upstream, 'for-each-ref'))
  await fs.rm(other, { recursive: true, force: true })
})

test('upstream: master carries the annotated tag v1.8.5-beta.0', async () => {
  assert.is(await git(fixture().upstream, 'cat-file', '-t', UPSTREAM_TAG), 'tag')
  assert.is(await git(fixture().upstream, 'rev-parse', 'master'), tagCommit)
  assert.is(await git(fixture().upstream, 'symbolic-ref', 'HEAD'), 'refs/heads/master')
  assert.is(await git(fixture().upstream, 'describe', 'master'), UPSTREAM_TAG)
  assert.is(await git(fixture().upstream, 'for-each-ref', '--format=%(refname)', 'refs/heads'), 'refs/heads/master')
})

test('fork: upstream history plus one commit per patch branch on the tag', async () => {
  assert.is(await git(fixture().fork, 'rev-parse', UPSTREAM_TAG), await git(fixture().upstream, 'rev-parse', UPSTREAM_TAG))
  assert.is(await git(fixture().fork, 'rev-parse', 'master'), tagCommit)
  for (const branch of Object.values(BRANCHES)) {
    assert.is(await git(fixture().fork, 'rev-parse', `${branch}^`), tagCommit, `${branch}'s parent`)
    assert.is(await git(fixture().fork, 'rev-list', '--count', `${UPSTREAM_TAG}..${branch}`), '1', branch)
  }
  const changed = (branch: string) => git(fixture().fork, 'diff', '--name-only', UPSTREAM_TAG, branch)
  assert.is(
    await changed(BRANCHES.denyattach),
    [
      'cmd/kube-apiserver/app/plugins.go',
      'plugin/pkg/admission/denyattach/admission.go',
      'plugin/pkg/admission/denyattach/admission_test.go',
    ].join('\n'),
  )
  assert.is(await changed(BRANCHES.denyattachfix), await changed(BRANCHES.denyattach))
  assert.is(await changed(BRANCHES.kubeadm), 'cmd/kubeadm/app/cmd/init.go')
})

test('the user checkout is a clean clone of upstream, on master', async () => {
  assert.is(await git(fixture().checkout, 'symbolic-ref', '--short', 'HEAD'), 'master')
  assert.is(await git(fixture().checkout, 'status', '--porcelain'), '')
  assert.is(await git(fixture().checkout, 'remote'), 'origin')
  assert.is(await git(fixture().checkout, 'remote', 'get-url', 'origin'), fixture().upstream)
  assert.is(await git(fixture().checkout, 'rev-parse', 'HEAD'), tagCommit)
  const status = await workspaceStatus(fixture().checkout)
  assert.is(status.get('gitVersion'), UPSTREAM_TAG)
  assert.is(status.get('gitTreeState'), 'clean')
  assert.is(status.get('gitCommit'), tagCommit)
  assert.is(status.get('gitMajor'), '1')
  assert.is(status.get('gitMinor'), '8+')
  assert.is(status.get('STABLE_DOCKER_TAG'), UPSTREAM_TAG)
})

test('build/run.sh make in a worktree of the denyattach branch', async () => {
  // As in the workflow: add the fork as a remote, fetch, build the branch.
  await git(fixture().checkout, 'remote', 'add', 'kinvolk', fixture().fork)
  await git(fixture().checkout, 'fetch', '--quiet', 'kinvolk')
  const dir = await worktree('denyattach', `kinvolk/${BRANCHES.denyattach}`)
  const commit = await git(dir, 'rev-parse', 'HEAD')

  const r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /^\+\+\+ \[\d{4} \d\d:\d\d:\d\d\] Building go targets for linux\/amd64:$/m)
  assert.match(r.stdout, /^ {4}cmd\/hyperkube$/m)
  assert.match(r.stdout, /^k8s\.io\/kubernetes\/cmd\/kubectl$/m)

  const status = await workspaceStatus(dir)
  for (const artifact of ARTIFACTS) {
    const info = await buildInfo(dir, artifact)
    assert.is(info.component, artifact)
    assert.match(info.gitVersion, BRANCH_VERSION)
    assert.is(info.gitVersion, `v1.8.5-beta.0.1+${commit.slice(0, 14)}`)
    assert.is(info.gitVersion, status.get('gitVersion'))
    assert.is(info.gitCommit, commit)
    assert.is(info.gitTreeState, 'clean')
    assert.is(info.major, '1')
    assert.is(info.minor, '8+')
    assert.match(info.buildDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    assert.equal(info.admissionPlugins, [
      {
        name: 'DenyAttach',
        denies: ['pods/attach'],
        message: 'cannot attach to a container, rejected by admission controller',
      },
    ])
    assert.match(info.kubeadmSourceDigest, /^[0-9a-f]{40}$/)
    const version = await run(path.join(dir, BIN, artifact), ['--version'], { cwd: dir })
    assert.is(version.stdout, `Kubernetes ${info.gitVersion}\n`)
  }
  infos.denyattach = await buildInfo(dir, 'kubeadm')
  assert.is(await git(dir, 'status', '--porcelain'), '', 'building leaves the worktree clean')
  assert.is(await git(fixture().checkout, 'status', '--porcelain'), '', 'and the user checkout too')
})

test('a dirty worktree builds a -dirty version', async () => {
  const dir = worktrees.denyattach!
  await fs.writeFile(path.join(dir, 'notes.txt'), 'untracked\n')
  let r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  let info = await buildInfo(dir, 'hyperkube')
  assert.match(info.gitVersion, /^v1\.8\.5-beta\.0\.1\+[0-9a-f]{14}-dirty$/)
  assert.is(info.gitTreeState, 'dirty')
  assert.is((await workspaceStatus(dir)).get('gitVersion'), info.gitVersion)
  await fs.rm(path.join(dir, 'notes.txt'))

  await fs.appendFile(path.join(dir, 'README.md'), '\nlocal change\n')
  r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  info = await buildInfo(dir, 'kubelet')
  assert.ok(info.gitVersion.endsWith('-dirty'), info.gitVersion)
  await git(dir, 'checkout', '--', 'README.md')

  r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  assert.match((await buildInfo(dir, 'kubelet')).gitVersion, BRANCH_VERSION)
})

test('the upstream tag builds without a denying admission plugin', async () => {
  const dir = await worktree('tag', UPSTREAM_TAG)
  const r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  const info = await buildInfo(dir, 'hyperkube')
  assert.is(info.gitVersion, UPSTREAM_TAG)
  assert.is(info.gitCommit, tagCommit)
  assert.equal(info.admissionPlugins, [])
  infos.tag = await buildInfo(dir, 'kubeadm')
})

test('the denyattachfix branch names the plugin in its message', async () => {
  const dir = await worktree('denyattachfix', `kinvolk/${BRANCHES.denyattachfix}`)
  const r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  const info = await buildInfo(dir, 'hyperkube')
  assert.match(info.gitVersion, BRANCH_VERSION)
  assert.equal(info.admissionPlugins, [
    { name: 'DenyAttach', denies: ['pods/attach'], message: 'cannot attach to a container, rejected by DenyAttach' },
  ])
  infos.denyattachfix = await buildInfo(dir, 'kubeadm')
})

test('only the kubeadm branch changes the built kubeadm', async () => {
  const dir = await worktree('kubeadm', `kinvolk/${BRANCHES.kubeadm}`)
  const r = await build(dir)
  assert.is(r.code, 0, r.stderr)
  const info = await buildInfo(dir, 'kubeadm')
  assert.equal(info.admissionPlugins, [])
  assert.is.not(info.kubeadmSourceDigest, infos.tag!.kubeadmSourceDigest)
  assert.is(infos.denyattach!.kubeadmSourceDigest, infos.tag!.kubeadmSourceDigest)
  assert.is(infos.denyattachfix!.kubeadmSourceDigest, infos.tag!.kubeadmSourceDigest)
  // Every artifact of a build carries the same digest.
  assert.is((await buildInfo(dir, 'hyperkube')).kubeadmSourceDigest, info.kubeadmSourceDigest)

  // kubeadm init names the master: the kubelet's identity it writes shows which name.
  const patched = await kubeadmInit(dir)
  assert.match(patched.output, /^\[init\] Node name: the hostname in lower case, unless --node-name is given$/m)
  assert.match(patched.kubeletConf, /^current-context: system:node:fixture-host@kubernetes$/m)
  const upstream = await kubeadmInit(worktrees.tag!)
  assert.match(upstream.output, /^\[init\] Node name: the hostname, unless --node-name is given$/m)
  assert.match(upstream.kubeletConf, /^current-context: system:node:Fixture-Host@kubernetes$/m)
  // Then it waits for the API server, which this machine does not have.
  assert.match(patched.output, /^\[init\] This might take a minute or longer if the control plane images have to be pulled\.$/m)
  assert.not.match(patched.output, 'Your Kubernetes master has initialized successfully!')
  const version = await run(path.join(dir, BIN, 'kubeadm'), ['version'], { cwd: dir })
  assert.ok(version.stdout.startsWith(`kubeadm version: &version.Info{Major:"1", Minor:"8+", GitVersion:"${info.gitVersion}"`))
})

test('kubelet stays in the foreground until stopped', async () => {
  const dir = worktrees.denyattach!
  const child = spawn(path.join(dir, BIN, 'kubelet'), ['--kubeconfig=/etc/kubernetes/kubelet.conf'], {
    cwd: dir,
    env: childEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  // It logs its version first, then serves until stopped.
  const logged = await new Promise<string>((resolve) => {
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (stderr.includes('\n')) resolve(stderr)
    })
    void exited.then(() => resolve(stderr))
  })
  assert.match(logged, /server\.go:\d+\] Version: v1\.8\.5-beta\.0\.1\+/)
  assert.is(child.exitCode, null, 'kubelet is still running')
  // The script sets its traps right after that line; a signal within those few instructions would find the shell's default.
  await sleep(300)
  child.kill('SIGTERM')
  const code = await Promise.race([exited, sleep(60_000).then(() => 'still running a minute after SIGTERM')])
  assert.is(code, 143, 'kubelet exits on SIGTERM with 143')
})

test('KSPAWN_WORLD_BUILD_FAIL_AT fails that stage like a compile error', async () => {
  const dir = await worktree('fail', `kinvolk/${BRANCHES.denyattach}`)
  const r = await build(dir, { KSPAWN_WORLD_BUILD_FAIL_AT: 'kubelet', KSPAWN_WORLD_BUILD_FAIL_CODE: '7' })
  assert.is(r.code, 7)
  assert.match(r.stderr, /^# k8s\.io\/kubernetes\/cmd\/kubelet$/m)
  assert.match(r.stderr, /^cmd\/kubelet\/kubelet\.go:\d+:\d+: undefined: /m)
  assert.match(r.stderr, /^make: \*\*\* .*Error 1$/m)
  // Targets built before the failing one are there, the rest is not.
  assert.ok(await exists(path.join(dir, BIN, 'hyperkube')))
  assert.ok(await exists(path.join(dir, BIN, 'kubeadm')))
  assert.not.ok(await exists(path.join(dir, BIN, 'kubelet')))
  assert.not.ok(await exists(path.join(dir, BIN, 'kubectl')))

  const byDefault = await build(dir, { KSPAWN_WORLD_BUILD_FAIL_AT: 'cmd/hyperkube' })
  assert.is(byDefault.code, 2)
  assert.match(byDefault.stderr, /^# k8s\.io\/kubernetes\/cmd\/hyperkube$/m)

  const unknown = await build(dir, { KSPAWN_WORLD_BUILD_FAIL_AT: 'kube-proxy' })
  assert.is(unknown.code, 2)
  assert.match(unknown.stderr, /KSPAWN_WORLD_BUILD_FAIL_AT=kube-proxy names no build stage; the stages are: hyperkube kubeadm kubelet kubectl/)
})

test('KSPAWN_WORLD_BUILD_SPEW prints exactly that many more bytes', async () => {
  const dir = worktrees.denyattach!
  const quiet = await build(dir)
  assert.is(quiet.code, 0, quiet.stderr)
  const small = await build(dir, { KSPAWN_WORLD_BUILD_SPEW: '1000' })
  assert.is(small.code, 0, small.stderr)
  assert.is(small.stdoutBytes - quiet.stdoutBytes, 1000)
  assert.match(small.stdout, /^k8s\.io\/kubernetes\/vendor\/github\.com\/golang\/glog$/m)

  const bytes = 64 * 1024 * 1024 + 7
  const big = await build(dir, { KSPAWN_WORLD_BUILD_SPEW: String(bytes) }, true)
  assert.is(big.code, 0, big.stderr)
  assert.is(big.stdoutBytes - quiet.stdoutBytes, bytes)
})

test('KSPAWN_WORLD_BUILD_SLEEP sleeps in a child process of the build', async () => {
  const dir = worktrees.denyattach!
  // Its own process group, as a task runner starts a step.
  const child = spawn(path.join(dir, 'build/run.sh'), ['make'], {
    cwd: dir,
    env: childEnv({ KSPAWN_WORLD_BUILD_SLEEP: '30' }),
    stdio: 'ignore',
    detached: true,
  })
  const pid = child.pid!
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  try {
    let sleeper: Proc | undefined
    // Bounds are generous: the build may start slowly on a busy machine.
    for (let i = 0; i < 1200 && !sleeper; i++) {
      sleeper = (await processes()).find((p) => p.comm === 'sleep' && p.pgid === pid)
      if (!sleeper) await sleep(50)
    }
    assert.ok(sleeper, 'a sleep process runs in the build process group')
    assert.is.not(sleeper!.pid, pid)
    assert.is.not(sleeper!.ppid, pid, 'it is a grandchild or deeper, not the build script itself')

    process.kill(-pid, 'SIGTERM')
    assert.is(await closed, 'SIGTERM')
    let left: Proc[] = []
    for (let i = 0; i < 600; i++) {
      left = (await processes()).filter((p) => p.pgid === pid)
      if (left.length === 0) break
      await sleep(50)
    }
    assert.equal(left, [], 'killing the process group stops the whole build')
  } finally {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
})

test('make -C cluster/images/hyperkube VERSION=... builds a labelled image', async () => {
  const dir = worktrees.denyattach!
  const r = await run('make', ['-C', 'cluster/images/hyperkube', `VERSION=${IMAGE_VERSION}`], {
    cwd: dir,
    timeoutMs: 120_000,
  })
  assert.is(r.code, 0, r.stderr)
  const artifact = await buildInfo(dir, 'hyperkube')

  const labels = await run('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', IMAGE], { cwd: dir })
  assert.is(labels.code, 0, labels.stderr)
  assert.equal(JSON.parse(labels.stdout), {
    'org.opencontainers.image.version': artifact.gitVersion,
    'org.opencontainers.image.revision': artifact.gitCommit,
  })

  const inside = await run('docker', ['run', '--rm', '--network', 'none', IMAGE, '/hyperkube', '--build-info'], {
    cwd: dir,
    timeoutMs: 60_000,
  })
  assert.is(inside.code, 0, inside.stderr)
  assert.equal(JSON.parse(inside.stdout), artifact)
})

test('the hyperkube image Makefile explains what is missing', async () => {
  const noVersion = await run('make', ['-C', 'cluster/images/hyperkube'], { cwd: worktrees.denyattach! })
  assert.is.not(noVersion.code, 0)
  assert.match(noVersion.stderr, /\*\*\* VERSION is undefined: make -C cluster\/images\/hyperkube VERSION=<image tag>\.\s+Stop\./)

  const unbuilt = await worktree('unbuilt', UPSTREAM_TAG)
  const noBinary = await run('make', ['-C', 'cluster/images/hyperkube', `VERSION=${IMAGE_VERSION}-unbuilt`], {
    cwd: unbuilt,
  })
  assert.is.not(noBinary.code, 0)
  assert.match(noBinary.stderr, /_output\/dockerized\/bin\/linux\/amd64\/hyperkube: no such file: build it first with build\/run\.sh make/)
  const image = await run('docker', ['image', 'inspect', `${IMAGE}-unbuilt`], { cwd: unbuilt })
  assert.is.not(image.code, 0, 'no image was built')
})

test.run()
