// The fixture's modern release (v1.36.1) and its DenyAttach branch, as `kind
// build node-image` sees them: the tags and branches, `make
// quick-release-images` with kind's exact arguments (binaries, real image
// tarballs), the admission plugins a build registers, and kubeadm in a
// container the way kind's nodes run it.
//
//   node --import tsx test/run.ts test/world/fixture-modern.test.ts
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as assert from 'uvu/assert'
import { groundwork, suite } from '../suite.ts'
import { MODERN_BRANCHES, MODERN_TAG, UPSTREAM_TAG } from './fixture/generate.ts'
import { checkout, must, sh, world, type Checkout, type Result } from './harness.ts'

const BIN = '_output/dockerized/bin/linux/amd64'
const IMAGES = '_output/release-images/amd64'
/** What kind v0.32.0 runs in the tree, in its order. */
const KIND_MAKE = [
  'quick-release-images',
  'KUBE_EXTRA_WHAT=cmd/kubeadm cmd/kubectl cmd/kubelet',
  'KUBE_VERBOSE=0',
  'KUBE_BUILD_HYPERKUBE=n',
  'KUBE_BUILD_CONFORMANCE=n',
  'KUBE_BUILD_PLATFORMS=linux/amd64',
]
const SERVER_IMAGES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy'] as const

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
  goVersion: string
  admissionPlugins: AdmissionPlugin[]
  registeredAdmissionPlugins: string[]
  denyingAdmissionPlugins: AdmissionPlugin[]
}

const DENY_ATTACH: AdmissionPlugin = {
  name: 'DenyAttach',
  denies: ['pods/attach'],
  message: 'cannot attach to a container, rejected by admission controller',
}

/** The plugins 1.36's kube-apiserver turns on by default, as its --help lists them (the fixture's AllOrderedPlugins order). */
const DEFAULT_ON =
  'NamespaceLifecycle, LimitRanger, ServiceAccount, TaintNodesByCondition, Priority, DefaultTolerationSeconds, MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ResourceQuota'
const REGISTERED_RELEASE =
  'AlwaysAdmit, DefaultTolerationSeconds, LimitRanger, MutatingAdmissionWebhook, NamespaceLifecycle, NodeRestriction, Priority, ResourceQuota, ServiceAccount, TaintNodesByCondition, ValidatingAdmissionWebhook'
const REGISTERED_PATCHED = REGISTERED_RELEASE.replace('DefaultTolerationSeconds, ', 'DefaultTolerationSeconds, DenyAttach, ')

/** The "Admission flags" section of `kube-apiserver --help` for a build registering those plugins, as pflag prints it unwrapped. */
function admissionFlagsHelp(registered: string): string {
  return [
    '',
    'Admission flags:',
    '',
    `      --admission-control strings              Admission is divided into two phases. In the first phase, only mutating admission plugins run. In the second phase, only validating admission plugins run. The names in the below list may represent a validating plugin, a mutating plugin, or both. The order of plugins in which they are passed to this flag does not matter. Comma-delimited list of: ${registered}. (DEPRECATED: Use --enable-admission-plugins or --disable-admission-plugins instead. Will be removed in a future version.)`,
    '      --admission-control-config-file string   File with admission control configuration.',
    `      --disable-admission-plugins strings      admission plugins that should be disabled although they are in the default enabled plugins list (${DEFAULT_ON}). Comma-delimited list of admission plugins: ${registered}. The order of plugins in this flag does not matter.`,
    `      --enable-admission-plugins strings       admission plugins that should be enabled in addition to default enabled ones (${DEFAULT_ON}). Comma-delimited list of admission plugins: ${registered}. The order of plugins in this flag does not matter.`,
    '',
  ].join('\n')
}

const HELP_HEAD = [
  'The Kubernetes API server validates and configures data',
  'for the api objects which include pods, services, replicationcontrollers, and',
  'others. The API Server services REST operations and provides the frontend to the',
  "cluster's shared state through which all other components interact.",
  '',
  'Usage:',
  '  kube-apiserver [flags]',
  '',
].join('\n')

const test = suite('fixture: the modern release kind builds')

const trees: Checkout[] = []
let patched: Checkout | undefined
let release: Checkout | undefined
let tmp = ''
/** Images a test loaded into the engine, removed at the end. */
const loaded: string[] = []

function tree(which: Checkout | undefined): Checkout {
  if (!which) assert.unreachable('no tree: the groundwork did not pass')
  return which!
}

const kindMake = (dir: string, env: Record<string, string> = {}): Promise<Result> => sh(['make', '-C', dir, ...KIND_MAKE], { env, timeoutMs: 300_000 })

async function buildInfo(dir: string, artifact: string): Promise<BuildInfo> {
  const r = await must([path.join(dir, BIN, artifact), '--build-info'])
  return JSON.parse(r.stdout) as BuildInfo
}

async function gitVersionOf(dir: string): Promise<string> {
  const status = await must(['hack/print-workspace-status.sh'], { cwd: dir })
  const line = status.stdout.split('\n').find((l) => l.startsWith('gitVersion '))
  return line?.slice('gitVersion '.length) ?? ''
}

test.before(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kspawn-fixture-modern-'))
})

test.after(async () => {
  if (loaded.length > 0) await sh(['docker', 'rmi', '--force', ...loaded])
  for (const t of trees) await t.remove()
  if (tmp) await fs.rm(tmp, { recursive: true, force: true })
})

groundwork(test, 'checks out the modern tag and the DenyAttach branch on it', async () => {
  const tags = await must(['git', 'tag', '--list'], { cwd: world().KSPAWN_WORLD_UPSTREAM })
  if (!tags.stdout.split('\n').includes(MODERN_TAG)) {
    throw new Error(`the world's fixture has no tag ${MODERN_TAG}: it predates it; run npm run world:up again to regenerate it`)
  }
  release = await checkout({ upstreamRef: MODERN_TAG })
  trees.push(release)
  patched = await checkout({ branch: MODERN_BRANCHES.denyattach })
  trees.push(patched)
})

test('the modern tag is off master: the v1.8 history is as it was', async () => {
  const upstream = world().KSPAWN_WORLD_UPSTREAM
  assert.is((await must(['git', 'cat-file', '-t', MODERN_TAG], { cwd: upstream })).stdout.trim(), 'tag')
  assert.is((await must(['git', 'describe', 'master'], { cwd: upstream })).stdout.trim(), UPSTREAM_TAG)
  const onMaster = await sh(['git', 'merge-base', '--is-ancestor', MODERN_TAG, 'master'], { cwd: upstream })
  assert.is(onMaster.exitCode, 1, `${MODERN_TAG} is not an ancestor of master`)
  assert.is((await must(['git', 'for-each-ref', '--format=%(refname)', 'refs/heads'], { cwd: upstream })).stdout.trim(), 'refs/heads/master')

  const fork = world().KSPAWN_WORLD_FORK
  const branch = MODERN_BRANCHES.denyattach
  assert.is((await must(['git', 'rev-list', '--count', `${MODERN_TAG}..${branch}`], { cwd: fork })).stdout.trim(), '1')
  assert.is(
    (await must(['git', 'diff', '--name-only', MODERN_TAG, branch], { cwd: fork })).stdout,
    'pkg/kubeapiserver/options/plugins.go\nplugin/pkg/admission/denyattach/admission.go\n',
  )
  // The release's tree is its own: nothing of v1.8's hyperkube is left.
  const files = (await must(['git', 'ls-tree', '-r', '--name-only', MODERN_TAG], { cwd: upstream })).stdout
  assert.not.match(files, 'hyperkube')
  assert.match(files, /^go\.mod$/m)
})

test("make quick-release-images with kind's arguments builds the binaries and the image tarballs", async () => {
  const dir = tree(patched).tree
  const r = await kindMake(dir)
  assert.is(r.exitCode, 0, r.output)
  assert.match(r.stdout, /^\+\+\+ \[\d{4} \d\d:\d\d:\d\d\] Building go targets for linux\/amd64$/m)
  assert.match(r.stdout, /^ {4}k8s\.io\/kubernetes\/cmd\/kubelet \(non-static\)$/m)
  assert.match(r.stdout, /^\+\+\+ \[\d{4} \d\d:\d\d:\d\d\] Docker builds done$/m)

  const commit = (await must(['git', 'rev-parse', 'HEAD'], { cwd: dir })).stdout.trim()
  const gitVersion = await gitVersionOf(dir)
  assert.is(gitVersion, `v1.36.1-1+${commit.slice(0, 14)}`)
  for (const artifact of ['kubeadm', 'kubelet', 'kubectl', ...SERVER_IMAGES]) {
    const info = await buildInfo(dir, artifact)
    assert.is(info.component, artifact)
    assert.is(info.gitVersion, gitVersion)
    assert.is(info.gitCommit, commit)
    assert.is(info.gitTreeState, 'clean')
    assert.is(info.major, '1')
    assert.is(info.minor, '36+')
    assert.is(info.goVersion, 'go1.26.3')
  }
  const apiserver = await buildInfo(dir, 'kube-apiserver')
  // Registered, and off by default: only --enable-admission-plugins turns it on.
  assert.ok(apiserver.registeredAdmissionPlugins.includes('DenyAttach'), apiserver.registeredAdmissionPlugins.join(','))
  assert.ok(apiserver.registeredAdmissionPlugins.includes('NodeRestriction'))
  assert.equal(apiserver.admissionPlugins, [])
  assert.equal(apiserver.denyingAdmissionPlugins, [DENY_ATTACH])
  // Its help lists every registered plugin, DenyAttach among them, and the default-on ones (DenyAttach not among them).
  for (const flag of ['--help', '-h']) {
    const help = await must([path.join(dir, BIN, 'kube-apiserver'), flag])
    assert.is(help.stdout, HELP_HEAD + admissionFlagsHelp(REGISTERED_PATCHED), flag)
    assert.is(help.stderr, '')
  }
  assert.equal(REGISTERED_PATCHED.split(', '), [...apiserver.registeredAdmissionPlugins].sort())
  // Other servers keep running as servers; --version still answers.
  assert.is((await must([path.join(dir, BIN, 'kube-apiserver'), '--version'])).stdout, `Kubernetes ${gitVersion}\n`)

  // Each tarball is what `docker save` wrote of an image holding that build's binary.
  const dockerTag = gitVersion.replace('+', '_')
  for (const name of SERVER_IMAGES) {
    const tarball = path.join(dir, IMAGES, `${name}.tar`)
    const manifest = await must(['tar', '-xOf', tarball, 'manifest.json'])
    const [entry] = JSON.parse(manifest.stdout) as { RepoTags: string[] }[]
    const image = `registry.k8s.io/${name}-amd64:${dockerTag}`
    assert.equal(entry?.RepoTags, [image])
    assert.is((await sh(['docker', 'image', 'inspect', image])).exitCode, 1, `the build removed ${image} from the engine`)
  }
  const image = `registry.k8s.io/kube-apiserver-amd64:${dockerTag}`
  await must(['docker', 'load', '--quiet', '--input', path.join(dir, IMAGES, 'kube-apiserver.tar')])
  loaded.push(image)
  const inside = await must(['docker', 'run', '--rm', '--network', 'none', image, '/usr/local/bin/kube-apiserver', '--build-info'])
  assert.equal(JSON.parse(inside.stdout), apiserver)
  // busybox's sh in the image prints the same help.
  const helpInside = await must(['docker', 'run', '--rm', '--network', 'none', image, '/usr/local/bin/kube-apiserver', '--help'])
  assert.is(helpInside.stdout, HELP_HEAD + admissionFlagsHelp(REGISTERED_PATCHED))
  assert.is((await must(['git', 'status', '--porcelain'], { cwd: dir })).stdout, '', 'building leaves the tree clean')
})

test('the release tag registers no DenyAttach', async () => {
  const dir = tree(release).tree
  const r = await kindMake(dir)
  assert.is(r.exitCode, 0, r.output)
  const info = await buildInfo(dir, 'kube-apiserver')
  assert.is(info.gitVersion, MODERN_TAG)
  assert.is(info.minor, '36')
  assert.not.ok(info.registeredAdmissionPlugins.includes('DenyAttach'))
  assert.equal(info.denyingAdmissionPlugins, [])
  const help = await must([path.join(dir, BIN, 'kube-apiserver'), '--help'])
  assert.is(help.stdout, HELP_HEAD + admissionFlagsHelp(REGISTERED_RELEASE))
  assert.not.match(help.stdout, 'DenyAttach')
})

test('the build knobs and a conformance build fail as the real build would', async () => {
  const dir = tree(release).tree
  const failed = await kindMake(dir, { KSPAWN_WORLD_BUILD_FAIL_AT: 'kubelet', KSPAWN_WORLD_BUILD_FAIL_CODE: '7' })
  assert.is(failed.exitCode, 2, 'make reports a failed recipe as 2')
  assert.match(failed.stderr, /^# k8s\.io\/kubernetes\/cmd\/kubelet$/m)
  assert.match(failed.stderr, /^cmd\/kubelet\/kubelet\.go:\d+:\d+: undefined: injectedBuildFailure/m)
  assert.match(failed.stderr, /^make: \*\*\* \[Makefile:\d+: quick-release-images\] Error 7$/m)
  assert.not.match(failed.stdout, 'Starting docker build', 'no image is built after a failed compile')

  const conformance = await sh(['make', '-C', dir, 'quick-release-images'])
  assert.is(conformance.exitCode, 2)
  assert.match(conformance.stderr, 'KUBE_BUILD_CONFORMANCE=y: this tree has no conformance image to build; set KUBE_BUILD_CONFORMANCE=n')

  const arm = await sh(['make', '-C', dir, ...KIND_MAKE.slice(0, -1), 'KUBE_BUILD_PLATFORMS=linux/arm64'])
  assert.is(arm.exitCode, 2)
  assert.match(arm.stderr, "KUBE_BUILD_PLATFORMS=linux/arm64: this tree's toolchain builds for linux/amd64 only")
})

test("kubeadm join and init write what a node's kubelet needs, from kind's kubeadm config", async () => {
  const dir = tree(patched).tree
  const config = [
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: ClusterConfiguration',
    'controlPlaneEndpoint: "fixture-control-plane:6443"',
    '---',
    'apiVersion: kubeadm.k8s.io/v1beta4',
    'kind: JoinConfiguration',
    'discovery:',
    '  bootstrapToken:',
    '    apiServerEndpoint: fixture-control-plane:6443',
    '    token: "abcdef.0123456789abcdef"',
    '---',
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    'failSwapOn: false',
    '',
  ].join('\n')
  await fs.writeFile(path.join(tmp, 'kubeadm.conf'), config)
  const run = (script: string) =>
    sh([
      'docker', 'run', '--rm', '--network', 'none', '--hostname', 'Fixture-Worker',
      '-v', `${path.join(dir, BIN, 'kubeadm')}:/usr/bin/kubeadm:ro`, '-v', `${tmp}/kubeadm.conf:/kind/kubeadm.conf:ro`,
      'busybox:latest', 'sh', '-c', script,
    ])
  const joined = await run('kubeadm join --config /kind/kubeadm.conf --skip-phases=preflight --v=6 && cat /etc/kubernetes/bootstrap-kubelet.conf && echo === && cat /var/lib/kubelet/config.yaml')
  assert.is(joined.exitCode, 0, joined.output)
  assert.match(joined.stdout, /^This node has joined the cluster:$/m)
  const [output = '', kubeletConfig = ''] = joined.stdout.split('===\n')
  assert.match(output, /^ {4}server: https:\/\/fixture-control-plane:6443$/m)
  assert.match(output, /^ {4}token: abcdef\.0123456789abcdef$/m)
  assert.is(kubeletConfig, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nfailSwapOn: false\n')

  // init names the node after the hostname in lower case, then waits for an API server this container does not have.
  const init = await run('kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6 >/tmp/out 2>&1 & while [ ! -s /etc/kubernetes/kubelet.conf ]; do sleep 0.1; done; sleep 0.5; cat /tmp/out; echo ===; cat /etc/kubernetes/kubelet.conf /etc/kubernetes/admin.conf')
  assert.is(init.exitCode, 0, init.output)
  const [initOutput = '', kubeconfigs = ''] = init.stdout.split('===\n')
  assert.match(initOutput, `[init] Using Kubernetes version: ${(await buildInfo(dir, 'kubeadm')).gitVersion}`)
  assert.match(initOutput, /^\[control-plane-check\] Checking kube-apiserver at https:\/\/fixture-control-plane:6443\/livez$/m)
  assert.match(kubeconfigs, /^current-context: system:node:fixture-worker@kubernetes$/m)
  assert.match(kubeconfigs, /^current-context: kubernetes-admin@kubernetes$/m)
})

test.run()
