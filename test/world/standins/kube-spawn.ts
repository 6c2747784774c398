// kube-spawn v0.2.1, as used in doc/dev-workflow.md ("Kubernetes development
// workflow example"), for the test world: same commands, flags, defaults,
// files under <dir>/<cluster>/, machine names, messages (Go's log package:
// stderr, exit 1 on log.Fatal) and failure modes, with the machines kept as
// containers on the world's Docker engine and the API server played by the
// world's emulator. See "The kube-spawn and machinectl stand-ins" in
// test/world/README.md for what differs.
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { chmod, copyFile, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { help, parse, usage, UnknownCommandError, UsageError, type CommandSpec, type FlagSpec, type ProgramSpec } from './cli.ts'
import {
  CacheDir,
  ConfigNotFoundError,
  DefaultKubeSpawnDir,
  DefaultRuntimeTimeout,
  kubeconfigPath,
  loadConfig,
  machineName,
  runningMachines,
  writeConfig,
  type ClusterConfiguration,
  type MachineConfiguration,
  type Pathmap,
  type Settings,
} from './config.ts'
import { startEmulator, stopEmulator, worldDir, writeAdminConf } from './emulator.ts'
import * as machines from './machines.ts'
import { docker, goQuote as q, logFatal, logPrint as log, lookPath, sleep } from './run.ts'

const version = 'v0.2.1'

// ---------------------------------------------------------------- commands

const persistentFlags: FlagSpec[] = [
  { name: 'dir', short: 'd', kind: 'string', default: '', usage: 'Path to kube-spawn asset directory' },
  { name: 'cluster-name', short: 'c', kind: 'string', default: '', usage: 'Name for the cluster' },
]

const createCmd: CommandSpec = {
  name: 'create',
  short: 'Generate the environment for a cluster',
  long: `Generate the environment for a cluster.
If you change 'kspawn.toml' this needs to be run again.`,
  example: `
# Create an environment to run a 3 node cluster initialized with components from $GOPATH/k8s.io/kubernetes
$ sudo -E kube-spawn create --nodes 3 --dev -t mytag

# Create a cluster environment using rkt as the container runtime
# You can specify paths to the binaries necessary using environment variables (in case they are not in your PATH)
$ sudo -E \\
	KUBE_SPAWN_RKT_BIN=/opt/bin/rkt \\
	KUBE_SPAWN_RKTLET_BIN=/opt/bin/rktlet \\
	KUBE_SPAWN_RKT_STAGE1_IMAGE=/opt/bin/stage1-coreos.aci \\
	kube-spawn create --container-runtime rkt`,
  flags: [
    { name: 'container-runtime', short: 'r', kind: 'string', default: '', usage: 'runtime to use for the spawned cluster (docker or rkt)' },
    { name: 'kubernetes-version', kind: 'string', default: '', usage: 'version kubernetes used to initialize the cluster. Irrelevant if used with --dev. Only accepts semantic version strings like "v1.8.5"' },
    { name: 'hyperkube-tag', short: 't', kind: 'string', default: 'latest', usage: 'Docker tag of the hyperkube image to use. Only with --dev' },
    { name: 'dev', kind: 'bool', default: false, usage: 'create a cluster from a local build of Kubernetes' },
    { name: 'nodes', short: 'n', kind: 'int', default: 0, usage: 'number of nodes to spawn' },
    { name: 'image', short: 'i', kind: 'string', default: '', usage: 'base image for nodes' },
    { name: 'cni-plugin-dir', kind: 'string', default: '/opt/cni/bin', usage: 'path to directory with CNI plugins' },
  ],
}

const skipInitFlag: FlagSpec = { name: 'skip-cluster-init', kind: 'bool', default: false, usage: 'skips the initialization of a Kubernetes-Cluster with kubeadm' }
const forceFlag: FlagSpec = { name: 'force', short: 'f', kind: 'bool', default: false, usage: 'terminate machines instead of trying graceful shutdown' }

const program: ProgramSpec = {
  name: 'kube-spawn',
  long: `kube-spawn is a tool for creating a multi-node dev Kubernetes cluster.
You can run a release-version cluster or spawn one from your local Kubernetes repository`,
  persistentFlags,
  rootFlags: [{ name: 'version', short: 'V', kind: 'bool', default: false, usage: 'Output version information' }],
  commands: [
    createCmd,
    { name: 'start', short: "Start the cluster. You should have run 'kube-spawn create' before this", flags: [skipInitFlag] },
    { name: 'stop', short: 'Stop the running cluster', flags: [forceFlag] },
    { name: 'restart', short: 'runs stop and start for you', flags: [{ ...skipInitFlag, usage: 'Skips the initialization of a Kubernetes-Cluster with kubeadm' }, forceFlag] },
    { name: 'destroy', short: 'Remove the cluster environment', long: 'Remove the cluster environment.\nStops the cluster if it it running', flags: [] },
    { name: 'up', short: 'Create a default cluster and start it', long: 'Create a default cluster and start it.\nShortcut for running\n\tkube-spawn create\n\tkube-spawn start', flags: [] },
    { name: 'list', short: 'print the created environments', flags: [] },
  ],
}

// ---------------------------------------------------------------- helpers

const settingKeys = ['dir', 'cluster-name', 'container-runtime', 'kubernetes-version', 'hyperkube-tag', 'dev', 'nodes', 'image', 'cni-plugin-dir'] as const

/** viper: only flags that were given override kspawn.toml and the defaults. */
let givenFlags: Partial<Settings> = {}

const isRoot = (): boolean => process.geteuid?.() === 0

/** kube-spawn runs machinectl from $PATH; its messages quote that command line. */
function machinectlPath(): string {
  return lookPath('machinectl') ?? join(worldDir, 'bin', 'machinectl')
}

function machinectlFailure(argv: string[], stderr: string): string {
  return `${q([machinectlPath(), ...argv].join(' '))} failed: ${stderr.endsWith('\n') ? stderr : stderr + '\n'}`
}

const isNotKnown = (message: string): boolean => /(.*)No (machine|image) '(.*)' known/.test(message)

function hyperkubeImage(cfg: ClusterConfiguration): string {
  return cfg.devCluster ? `gcr.io/google-containers/hyperkube-amd64:${cfg.hyperkubeTag}` : `gcr.io/google_containers/hyperkube-amd64:${cfg.kubernetesVersion}`
}

/** Masterminds/semver constraint check as utils.CheckVersionConstraint: false when the version does not parse. */
function checkVersionConstraint(v: string, constraint: string): boolean {
  const parse = (s: string): number[] | null => {
    const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$/.exec(s.trim())
    return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : null
  }
  const m = /^(<=|>=|<|>|=)?\s*(.+)$/.exec(constraint)
  const have = parse(v)
  const want = m ? parse(m[2]!) : null
  if (!have || !want || !m) return false
  const cmp = have[0]! - want[0]! || have[1]! - want[1]! || have[2]! - want[2]!
  switch (m[1]) {
    case '<':
      return cmp < 0
    case '<=':
      return cmp <= 0
    case '>':
      return cmp > 0
    case '>=':
      return cmp >= 0
    default:
      return cmp === 0
  }
}

/** Whether a machine's own rootfs layer holds any file (an empty one need not be copied in). */
function hasFiles(dir: string): boolean {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).some((e) => !e.isDirectory())
  } catch {
    return false
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

/** utils.CheckValidDir's error, as os.Stat words it. */
function checkValidDir(p: string): void {
  try {
    if (!statSync(p).isDirectory()) throw new Error(`${q(p)} is not a directory.`)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`stat ${p}: no such file or directory`)
    throw error
  }
}

/** utils.GetValidGoPath: $GOPATH, else $HOME/go. */
function validGoPath(): string {
  const gopath = process.env.GOPATH ?? ''
  if (isDir(gopath)) return gopath
  const fallback = join(process.env.HOME ?? homedir(), 'go')
  checkValidDir(fallback)
  return fallback
}

/** utils.GetK8sBuildOutputDir: _output/dockerized/bin/linux/amd64, else _output/bin. */
function k8sBuildOutputDir(): string {
  const repo = join(validGoPath(), 'src/k8s.io/kubernetes')
  const dockerized = join(repo, '_output/dockerized/bin/linux/amd64')
  if (isDir(dockerized)) return dockerized
  const plain = join(repo, '_output/bin')
  checkValidDir(plain)
  return plain
}

function k8sBuildAssetDir(): string {
  const dir = join(validGoPath(), 'src/k8s.io/kubernetes/build')
  checkValidDir(dir)
  return dir
}

function goError(error: unknown): string {
  const e = error as NodeJS.ErrnoException
  if (e.code === 'ENOENT' && e.path) return `open ${e.path}: no such file or directory`
  if (e.code === 'EACCES' && e.path) return `open ${e.path}: permission denied`
  return e.message
}

// ---------------------------------------------------------------- create

interface Copy extends Pathmap {
  /** kube-spawn needs it; the rest are copied when the tree has them. */
  required: boolean
}

async function doCreate(): Promise<void> {
  const { cfg, error } = await loadConfig(givenFlags)
  if (error && !(error instanceof ConfigNotFoundError)) logFatal(`unable to load config: ${error.message}`)
  log(`creating cluster environment ${q(cfg.name)}`)
  if (cfg.devCluster) log('spawning from local kubernetes build')
  else log(`spawning kubernetes version ${q(cfg.kubernetesVersion)}`)
  if (cfg.containerRuntime !== 'docker') log(`spawning with container runtime ${q(cfg.containerRuntime)}`)

  if (checkVersionConstraint(cfg.kubernetesVersion, '<1.7.5')) logFatal("minimum supported version is 'v1.7.5'")

  const cacheDir = join(cfg.kubeSpawnDir, CacheDir)
  if (!cfg.devCluster) await downloadK8sBins(cacheDir, cfg.kubernetesVersion)
  await downloadSocatBin(cacheDir)

  // config.SetDefaults_Kubernetes
  const copies: Copy[] = []
  try {
    let kubeletPath: string, kubeadmPath: string, kubectlPath: string, kubeletServicePath: string, kubeadmDropinPath: string
    if (cfg.devCluster) {
      cfg.kubernetesVersion = 'latest'
      let outputDir: string
      try {
        outputDir = k8sBuildOutputDir()
      } catch (e) {
        throw new Error(`error getting k8s build output directory: ${(e as Error).message}`)
      }
      let assetDir: string
      try {
        assetDir = k8sBuildAssetDir()
      } catch (e) {
        throw new Error(`error getting k8s build asset directory: ${(e as Error).message}`)
      }
      kubeletPath = join(outputDir, 'kubelet')
      kubeadmPath = join(outputDir, 'kubeadm')
      kubectlPath = join(outputDir, 'kubectl')
      kubeletServicePath = join(assetDir, 'debs/kubelet.service')
      kubeadmDropinPath = join(assetDir, 'rpms/10-kubeadm.conf')
    } else {
      const versionDir = join(cacheDir, cfg.kubernetesVersion)
      kubeletPath = join(versionDir, 'kubelet')
      kubeadmPath = join(versionDir, 'kubeadm')
      kubectlPath = join(versionDir, 'kubectl')
      kubeletServicePath = join(versionDir, 'kubelet.service')
      kubeadmDropinPath = join(versionDir, '10-kubeadm.conf')
    }
    copies.push(
      { dst: '/usr/bin/kubelet', src: kubeletPath, required: true },
      { dst: '/usr/bin/kubeadm', src: kubeadmPath, required: true },
      { dst: '/usr/bin/kubectl', src: kubectlPath, required: true },
      { dst: '/etc/systemd/system/kubelet.service', src: kubeletServicePath, required: false },
      { dst: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', src: kubeadmDropinPath, required: false },
      // NOTE: workaround for making kubelet work with port-forward
      { dst: '/usr/bin/socat', src: join(cacheDir, 'socat'), required: true },
    )
    if (cfg.devCluster || checkVersionConstraint(cfg.kubernetesVersion, '>=1.8.0')) {
      cfg.tokenGroupsOption = '--groups=system:bootstrappers:kubeadm:default-node-token'
    }
  } catch (e) {
    logFatal(`error settting kubernetes defaults: ${(e as Error).message}`)
  }

  // config.SetDefaults_BindmountConfiguration
  const cniPath = process.env.CNI_PATH || String(givenFlags['cni-plugin-dir'] ?? '/opt/cni/bin')
  cfg.bindmount.readWrite = [...cfg.bindmount.readWrite.filter((p) => p.dst !== '/opt/cni/bin'), { dst: '/opt/cni/bin', src: cniPath }]

  // config.SetDefaults_RuntimeConfiguration
  try {
    setRuntimeDefaults(cfg)
    cfg.machines = []
    for (let i = 0; i < cfg.nodes; i++) {
      const name = machineName(cfg.name, i)
      const mountPath = join(cfg.kubeSpawnDir, cfg.name, name, 'mount')
      const m: MachineConfiguration = { running: false, name, ip: '', bindmount: { readOnly: [], readWrite: [{ dst: runtimeDataDir(cfg), src: mountPath }] } }
      cfg.machines.push(m)
      await mkdir(mountPath, { recursive: true })
    }
  } catch (e) {
    logFatal(`error setting container runtime defaults: ${(e as Error).message}`)
  }

  log('ensuring environment')
  try {
    await mkdir(cfg.kubeSpawnDir, { recursive: true })
  } catch {
    logFatal(`unable to use overlayfs on ${q(cfg.kubeSpawnDir)}: cannot create directory ${q(cfg.kubeSpawnDir)}. Try to pass a directory with a different filesystem (like ext4 or XFS) to --dir.`)
  }

  log('generating scripts')
  try {
    await generateScripts(cfg)
  } catch (e) {
    logFatal(`error generating files: ${goError(e)}`)
  }

  log('copying files into environment')
  const rootfs = join(cfg.kubeSpawnDir, cfg.name, 'rootfs')
  const failures = await Promise.all(
    copies.map(async (c) => {
      if (!c.required && !existsSync(c.src)) return null
      const dst = join(rootfs, c.dst)
      try {
        await mkdir(dirname(dst), { recursive: true })
        await copyFile(c.src, dst)
        return null
      } catch (e) {
        log(`failed to copy file ${q(c.src)} -> ${q(dst)}: ${goError(e)}`)
        return c
      }
    }),
  )
  const missing = failures.filter((c): c is Copy => c !== null)
  if (missing.length > 0) {
    if (cfg.devCluster && missing.some((c) => c.dst.startsWith('/usr/bin/kube'))) {
      log(`(the Kubernetes build output is incomplete; build it with 'build/run.sh make' in ${join(validGoPath(), 'src/k8s.io/kubernetes')})`)
    }
    logFatal("Copying necessary files didn't succeed, aborting")
  }

  // The test world checks here what kube-spawn v0.2.1 only found missing when
  // `start` pushed the image to its registry: the machines are made from it.
  if (cfg.devCluster) {
    const image = hyperkubeImage(cfg)
    const r = await docker(['image', 'inspect', '--format', '{{.Id}}', image])
    if (r.code !== 0) {
      if (/No such image/i.test(r.stderr)) {
        logFatal(
          `hyperkube image ${q(image)} not found in the Docker engine; build it with ` +
            `'make -C cluster/images/hyperkube VERSION=${cfg.hyperkubeTag}' in $GOPATH/src/k8s.io/kubernetes, ` +
            `or pull an image and tag it ${image}`,
        )
      }
      logFatal(`cannot look for the hyperkube image ${q(image)}: ${r.stderr.trim()}`)
    }
  }

  await saveConfig(cfg)
  log('created cluster config')
}

function runtimeDataDir(cfg: ClusterConfiguration): string {
  return cfg.containerRuntime === 'rkt' ? '/var/lib/rktlet' : cfg.containerRuntime === 'crio' ? '/var/lib/containers' : '/var/lib/docker'
}

function setRuntimeDefaults(cfg: ClusterConfiguration): void {
  const rc = cfg.runtimeConfiguration
  if (rc.timeout === '') rc.timeout = DefaultRuntimeTimeout
  // K8s 1.8 or newer fails to run by default when swap is enabled
  if (!cfg.devCluster && checkVersionConstraint(cfg.kubernetesVersion, '<1.8.0')) rc.failSwapOn = true
  const need = (bin: string): void => {
    if (!lookPath(bin)) throw new Error(`exec: ${q(bin)}: executable file not found in $PATH`)
  }
  switch (cfg.containerRuntime) {
    case 'rkt':
      rc.endpoint = 'unix:///var/run/rktlet.sock'
      if (!process.env.KUBE_SPAWN_RKT_BIN) need('rkt')
      if (!process.env.KUBE_SPAWN_RKTLET_BIN) need('rktlet')
      if (!process.env.CNI_PATH) throw new Error('CNI_PATH was not set')
      throw new Error('the test world runs machines with the docker runtime only')
    case 'crio':
      rc.endpoint = 'unix:///var/run/crio.sock'
      rc.useLegacyCgroupDriver = true
      if (!process.env.KUBE_SPAWN_CRIO_BIN) need('crio')
      if (!process.env.KUBE_SPAWN_RUNC_BIN) need('runc')
      if (!process.env.KUBE_SPAWN_CONMON_BIN) need('conmon')
      throw new Error('the test world runs machines with the docker runtime only')
    default:
      rc.endpoint = ''
      rc.useLegacyCgroupDriver = true
  }
}

/** bootstrap.DownloadK8sBins: the release binaries, cached in <dir>/.cache/<version>/. */
async function downloadK8sBins(cacheDir: string, k8sVersion: string): Promise<void> {
  const versionDir = join(cacheDir, k8sVersion)
  await mkdir(versionDir, { recursive: true })
  const urls = [
    ...['kubelet', 'kubeadm', 'kubectl'].map((f) => `https://dl.k8s.io/${k8sVersion}/bin/linux/amd64/${f}`),
    ...['kubelet.service', '10-kubeadm.conf'].map((f) => `https://raw.githubusercontent.com/kubernetes/kubernetes/${k8sVersion}/build/rpms/${f}`),
  ]
  let err: string | null = null
  for (const url of urls) {
    const base = url.slice(url.lastIndexOf('/') + 1)
    if (existsSync(join(versionDir, base))) continue
    log(`downloading ${base}`)
    // the test world has no internet
    err = `error downloading ${url}: Get ${url}: dial tcp: lookup ${new URL(url).hostname}: no such host`
  }
  if (err) logFatal(err)
}

/** bootstrap.DownloadSocatBin: a static socat, once, into the cache (here a placeholder). */
async function downloadSocatBin(cacheDir: string): Promise<void> {
  await mkdir(cacheDir, { recursive: true })
  const socat = join(cacheDir, 'socat')
  if (existsSync(socat)) return
  log('downloading socat')
  await writeFile(socat, '#!/bin/sh\necho "socat: not available in the test world" >&2\nexit 1\n', { mode: 0o755 })
}

/** bootstrap.GenerateScripts: <dir>/<cluster>/rootfs/... and the machines' own empty rootfs dirs. */
async function generateScripts(cfg: ClusterConfiguration): Promise<void> {
  const rootfs = join(cfg.kubeSpawnDir, cfg.name, 'rootfs')
  const files: [string, string, number][] = [
    [
      '/opt/kube-spawn/bootstrap.sh',
      [
        '#!/bin/sh',
        '# Prepares a kube-spawn machine for kubeadm.',
        'set -e',
        'mkdir -p /etc/kubernetes/manifests /etc/kubernetes/pki /var/lib/kubelet /etc/cni/net.d /var/lib/docker',
        '',
      ].join('\n'),
      0o755,
    ],
    [
      '/etc/systemd/system/kubelet.service.d/20-kubeadm-extra-args.conf',
      [
        '[Service]',
        `Environment="KUBELET_EXTRA_ARGS=${cfg.runtimeConfiguration.useLegacyCgroupDriver ? '--cgroup-driver=cgroupfs ' : ''}--cgroups-per-qos=${cfg.runtimeConfiguration.cgroupPerQos} --enforce-node-allocatable= ${cfg.runtimeConfiguration.failSwapOn ? '' : '--fail-swap-on=false '}--runtime-request-timeout=${cfg.runtimeConfiguration.timeout}"`,
        '',
      ].join('\n'),
      0o644,
    ],
    [
      '/etc/kubeadm/kubeadm.yml',
      [
        'apiVersion: kubeadm.k8s.io/v1alpha1',
        'authorizationMode: AlwaysAllow',
        'apiServerExtraArgs:',
        '  insecure-port: "8080"',
        'controllerManagerExtraArgs:',
        `kubernetesVersion: ${cfg.kubernetesVersion}`,
        'schedulerExtraArgs:',
        ...(cfg.devCluster ? [`unifiedControlPlaneImage: 10.22.0.1:5000/hyperkube-amd64:${cfg.hyperkubeTag}`] : []),
        '',
      ].join('\n'),
      0o644,
    ],
    ['/etc/docker/daemon.json', '{\n  "insecure-registries": ["10.22.0.1:5000"],\n  "storage-driver": "overlay2"\n}\n', 0o644],
    ['/etc/systemd/system/docker.service.d/20-kubeadm-extra-args.conf', '[Service]\nEnvironment="DOCKER_OPTS=--exec-opt native.cgroupdriver=cgroupfs"\n', 0o644],
    ['/etc/tmpfiles.d/kubelet.conf', 'd /var/lib/kubelet 0755 - - -\n', 0o644],
    ['/etc/systemd/network/50-weave.network', '[Match]\nName=weave datapath vxlan-*\n\n[Link]\nUnmanaged=yes\n', 0o644],
  ]
  for (const [path, content, mode] of files) {
    const file = join(rootfs, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, content)
    await chmod(file, mode)
  }
  for (let i = 0; i < cfg.nodes; i++) {
    const rootDir = join(cfg.kubeSpawnDir, cfg.name, machineName(cfg.name, i), 'rootfs')
    for (const sub of ['etc', 'opt', 'usr/bin']) await mkdir(join(rootDir, sub), { recursive: true })
  }
}

async function saveConfig(cfg: ClusterConfiguration): Promise<void> {
  try {
    await writeConfig(cfg)
  } catch (e) {
    logFatal(`failed to write to config file: ${goError(e)}`)
  }
}

async function loadClusterConfig(): Promise<ClusterConfiguration> {
  const { cfg, error } = await loadConfig(givenFlags)
  if (error) logFatal(`error loading config: ${error.message}`)
  log(`using config from ${cfg.kubeSpawnDir}/${cfg.name}`)
  return cfg
}

// ---------------------------------------------------------------- start

function kubeletArgs(cfg: ClusterConfiguration, name: string): (address: string) => string[] {
  const rc = cfg.runtimeConfiguration
  return (address) => [
    '--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf',
    '--kubeconfig=/etc/kubernetes/kubelet.conf',
    '--pod-manifest-path=/etc/kubernetes/manifests',
    '--allow-privileged=true',
    '--network-plugin=cni',
    '--cni-conf-dir=/etc/cni/net.d',
    '--cni-bin-dir=/opt/cni/bin',
    '--cluster-dns=10.96.0.10',
    '--cluster-domain=cluster.local',
    '--authorization-mode=Webhook',
    '--client-ca-file=/etc/kubernetes/pki/ca.crt',
    '--cadvisor-port=0',
    ...(rc.useLegacyCgroupDriver ? ['--cgroup-driver=cgroupfs'] : []),
    `--cgroups-per-qos=${rc.cgroupPerQos}`,
    '--enforce-node-allocatable=',
    ...(rc.failSwapOn ? [] : ['--fail-swap-on=false']),
    `--hostname-override=${name}`,
    `--node-ip=${address}`,
  ]
}

/** nspawntool.Run: clone the base image, boot the machine with the cluster's rootfs overlaid, wait until it runs. */
async function runMachine(cfg: ClusterConfiguration, mNo: number, cloneTurn: Promise<unknown>): Promise<void> {
  const m = cfg.machines[mNo]
  if (!m) throw new Error(`cannot get a machine kubespawn${mNo}`)
  if (m.running) return
  await cloneTurn.catch(() => undefined)
  try {
    await machines.clone(m.name, {
      baseImage: cfg.image,
      dockerImage: hyperkubeImage(cfg),
      cluster: cfg.name,
      clusterDir: resolve(cfg.kubeSpawnDir, cfg.name),
      role: mNo === 0 ? 'master' : 'node',
      kubeletArgs: kubeletArgs(cfg, m.name),
    })
  } catch (e) {
    if (e instanceof machines.MachinectlError) throw new Error(`error cloning image: ${machinectlFailure(['clone', cfg.image, m.name], e.message)}`)
    throw e
  }
}

async function bootMachine(cfg: ClusterConfiguration, mNo: number): Promise<void> {
  const m = cfg.machines[mNo]!
  if (m.running) return
  const lower = resolve(cfg.kubeSpawnDir, cfg.name, 'rootfs')
  const upper = resolve(cfg.kubeSpawnDir, cfg.name, m.name, 'rootfs')
  try {
    await machines.boot(m.name, [lower, ...(hasFiles(upper) ? [upper] : [])])
  } catch (e) {
    throw new Error(`error running cnispawn: ${(e as Error).message}`)
  }
  for (let retries = 0; retries <= 30; retries++) {
    if (await machines.isRunning(m.name)) {
      m.running = true
      return
    }
    await sleep(200)
  }
  throw new Error(`timeout waiting for ${q(m.name)} to start`)
}

const connected = (name: string): string => `Connected to machine ${name}. Press ^] three times within 1s to exit session.\n`
const terminated = (name: string): string => `Connection to machine ${name} terminated.\n`

/** machinetool.Shell: the command's output goes to ours; on failure, the machinectl command line. */
async function machineShell(name: string, command: string[], opts: string[] = [], env: Record<string, string> = {}): Promise<void> {
  const argv = [...opts, 'shell', name, ...command]
  try {
    process.stderr.write(connected(name))
    const r = await machines.shell(name, command, { env, stream: true })
    process.stderr.write(terminated(name))
    if (r.code !== 0) throw new Error(machinectlFailure(argv, ''))
  } catch (e) {
    if (e instanceof machines.MachinectlError) throw new Error(machinectlFailure(argv, e.message))
    throw e
  }
}

/** machinetool.Exec: output captured, shown only when it fails. */
async function machineExec(name: string, command: string[]): Promise<void> {
  const argv = ['shell', name, ...command]
  try {
    const r = await machines.shell(name, command, { stream: false })
    if (r.code !== 0) throw new Error(machinectlFailure(argv, connected(name) + r.stdout + r.stderr + terminated(name)))
  } catch (e) {
    if (e instanceof machines.MachinectlError) throw new Error(machinectlFailure(argv, e.message))
    throw e
  }
}

/** kubeadm's token format, as `kubeadm token generate` prints it. */
function generateToken(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const pick = (n: number): string => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('')
  return `${pick(6)}.${pick(16)}`
}

async function doStart(cfg: ClusterConfiguration, skipInit: boolean): Promise<void> {
  if (runningMachines(cfg) === cfg.nodes) {
    log('cluster is up')
    return
  }
  log(`using ${q(cfg.image)} base image from /var/lib/machines`)
  log(`spawning cluster ${q(cfg.name)} (${cfg.nodes} machines)`)

  // The machines are made from the hyperkube image (kube-spawn pushed it to
  // its registry only after they had started: the same error, earlier).
  const image = hyperkubeImage(cfg)
  const inspect = await docker(['image', 'inspect', '--format', '{{.Id}}', image])
  if (inspect.code !== 0) {
    const reason = /No such image/i.test(inspect.stderr) ? `No such image: ${image}` : inspect.stderr.trim()
    logFatal(`error pushing hyperkube image: Error response from daemon: ${reason}`)
  }

  // Images are cloned one after the other (addresses in machine order), then the machines boot side by side.
  let cloneTurn: Promise<unknown> = Promise.resolve()
  await Promise.all(
    Array.from({ length: cfg.nodes }, (_, i) => {
      log(`waiting for machine ${q(machineName(cfg.name, i))} to start up`)
      const cloned = runMachine(cfg, i, cloneTurn)
      cloneTurn = cloned
      return (async () => {
        try {
          await cloned
          await bootMachine(cfg, i)
        } catch (e) {
          log(`failed to start machine: ${(e as Error).message}`)
          return
        }
        const m = cfg.machines[i]!
        log(`machine ${q(m.name)} started`)
        log(`bootstrapping ${q(m.name)}`)
        try {
          await machineExec(m.name, ['/opt/kube-spawn/bootstrap.sh'])
        } catch (e) {
          logFatal(`failed to bootstrap: ${(e as Error).message}`)
        }
      })()
    }),
  )
  await saveConfig(cfg)

  if (runningMachines(cfg) !== cfg.nodes) {
    log('not all machines started')
    return
  }
  log(`cluster ${q(cfg.name)} started`)

  if (skipInit) return

  await initMasterNode(cfg)
  if (cfg.nodes > 1) await joinWorkerNodes(cfg)
  log(`cluster ${q(cfg.name)} initialized`)
  log('Note: For kubectl to work, please set $KUBECONFIG:')
  log(`export KUBECONFIG=${kubeconfigPath(cfg.kubeSpawnDir, cfg.name)}\n`)
  await saveConfig(cfg)
}

function shellOpts(cfg: ClusterConfiguration): { opts: string[]; env: Record<string, string> } {
  // kube-spawn passes the quotes on: --setenv=KUBE_HYPERKUBE_IMAGE="10.22.0.1:5000/hyperkube-amd64"
  return cfg.devCluster ? { opts: ['--setenv=KUBE_HYPERKUBE_IMAGE="10.22.0.1:5000/hyperkube-amd64"'], env: { KUBE_HYPERKUBE_IMAGE: '"10.22.0.1:5000/hyperkube-amd64"' } } : { opts: [], env: {} }
}

async function initMasterNode(cfg: ClusterConfiguration): Promise<void> {
  log('[!] note: init on master can take a couple of minutes until all pods are up')
  const master = cfg.machines[0]!
  const clusterDir = resolve(cfg.kubeSpawnDir, cfg.name)
  try {
    // kubeadm init writes the control plane's static pods and the kubelet runs
    // them; kubeadm then waits for the API server. Here the API server is the
    // emulator, up before kubeadm runs and reachable in the master on 6443.
    let url: string
    try {
      const seconds = Number(process.env.KSPAWN_WORLD_NODE_READY_SECONDS || '2')
      const info = await startEmulator(clusterDir, await emulatorSpec(cfg, Number.isFinite(seconds) && seconds >= 0 ? seconds : 2))
      url = info.url
    } catch (e) {
      throw new Error(`the API server did not come up: ${(e as Error).message}`)
    }

    const { opts, env } = shellOpts(cfg)
    // The world's knob for kubeadm's MarkMasterTimeout reaches the kubeadm in the machine.
    const timeout = process.env.KSPAWN_WORLD_MARK_MASTER_TIMEOUT
    const kubeadmEnv = timeout ? { ...env, KSPAWN_WORLD_MARK_MASTER_TIMEOUT: timeout } : env
    await machineShell(master.name, ['/usr/bin/kubeadm', 'init', '--skip-preflight-checks', '--config=/etc/kubeadm/kubeadm.yml'], opts, kubeadmEnv)

    cfg.token = generateToken()

    // find IP of master
    const running = await machines.listMachines()
    const ip = running.find((m) => m.name === master.name && m.running)?.address
    if (!ip) throw new Error('failed to retrieve ip address: could not find machine')
    master.ip = ip

    const etcKubernetes = join(clusterDir, master.name, 'rootfs', 'etc', 'kubernetes')
    try {
      const adminConf = await writeAdminConf(etcKubernetes, url)
      await copyFile(adminConf, kubeconfigPath(cfg.kubeSpawnDir, cfg.name))
    } catch (e) {
      throw new Error(`failed copying kubeconfig to host: ${goError(e)}`)
    }
  } catch (e) {
    logFatal(`failed to initialize master node: ${(e as Error).message}`)
  }
}

async function emulatorSpec(cfg: ClusterConfiguration, nodeReadySeconds: number): Promise<Parameters<typeof startEmulator>[1]> {
  const byName = new Map((await machines.listMachines()).map((m) => [m.name, m.address]))
  return {
    clusterName: cfg.name,
    image: hyperkubeImage(cfg),
    machines: cfg.machines.map((m, i) => ({ name: m.name, role: i === 0 ? 'master' : 'node', address: byName.get(m.name) ?? '' })),
    nodeReadySeconds,
    masterPort: 6443,
  }
}

async function joinWorkerNodes(cfg: ClusterConfiguration): Promise<void> {
  await Promise.all(
    cfg.machines.slice(1, cfg.nodes).map(async (m) => {
      try {
        if (cfg.token === '') throw new Error('no token found')
        const masterIP = cfg.machines[0]!.ip
        if (masterIP === '') throw new Error('no master IP found')
        const join = ['/usr/bin/kubeadm', 'join', '--skip-preflight-checks', '--token', cfg.token]
        // --discovery-token-unsafe-skip-ca-verification appeared in Kubernetes 1.8 (test is !<1.8 for 'latest')
        if (!checkVersionConstraint(cfg.kubernetesVersion, '<1.8')) join.push('--discovery-token-unsafe-skip-ca-verification')
        join.push(`${masterIP}:6443`)
        const { opts, env } = shellOpts(cfg)
        await machineShell(m.name, join, opts, env)
      } catch (e) {
        logFatal(`failed to join ${q(m.name)}: ${(e as Error).message}`)
      }
    }),
  )
}

// ---------------------------------------------------------------- stop, destroy, list

const retrySleep = 100 // kube-spawn waits 500ms between machinectl retries; the world is quicker

async function doStop(cfg: ClusterConfiguration, force: boolean): Promise<void> {
  log(`${force ? 'force ' : ''}stopping ${cfg.machines.length} machines`)
  if (runningMachines(cfg) !== 0) await stopMachines(cfg, force)
  else log('nothing to stop')
  await removeImages(cfg)
  // The API server went down with the master machine.
  await stopEmulator(resolve(cfg.kubeSpawnDir, cfg.name))
  cfg.token = ''
  await saveConfig(cfg)
}

async function stopMachines(cfg: ClusterConfiguration, force: boolean): Promise<void> {
  await Promise.all(
    cfg.machines.map(async (m) => {
      if (!(await gracefulStop(m.name, force))) return
      m.running = false
      m.ip = ''
      log(`${q(m.name)} stopped`)
    }),
  )
}

function errorText(e: unknown, argv: string[]): string {
  return e instanceof machines.MachinectlError ? machinectlFailure(argv, e.message) : (e as Error).message
}

async function gracefulStop(name: string, force: boolean): Promise<boolean> {
  if (!force) {
    let stopped = false
    for (let retries = 0; retries < 5 && !stopped; retries++) {
      try {
        await machines.poweroff(name)
        return true
      } catch (e) {
        const text = errorText(e, ['poweroff', name])
        if (!isNotKnown(text)) {
          log(`error powering off machine ${q(name)}, maybe try with \`kube-spawn stop -f\`: ${text}`)
          return false
        }
        await sleep(retrySleep)
      }
    }
    log(`Tried to stop ${name} 5 times, but it didn't work, terminating.`)
  }
  try {
    await machines.terminate(name)
  } catch (e) {
    const text = errorText(e, ['terminate', name])
    if (!isNotKnown(text)) {
      log(`error terminating machine ${q(name)}: ${text}`)
      return false
    }
  }
  return true
}

async function removeImages(cfg: ClusterConfiguration): Promise<void> {
  await Promise.all(
    cfg.machines.map(async (m) => {
      if (!(await machines.imageExists(m.name))) return
      for (let retries = 0; retries < 15; retries++) {
        const err = await removeImage(m.name)
        if (err) {
          log(`failed to remove image ${q(m.name)}: ${err}. retrying...`)
          await sleep(retrySleep)
          continue
        }
        log(`successfully removed image ${q(m.name)}`)
        break
      }
    }),
  )
}

async function removeImage(name: string): Promise<string | null> {
  let text = ''
  for (let retries = 0; retries < 5; retries++) {
    try {
      await machines.removeImage(name)
      return null
    } catch (e) {
      text = errorText(e, ['remove', name])
      await sleep(retrySleep / 5)
    }
  }
  return `error removing machine image for ${q(name)}: ${text}`
}

async function doDestroy(cfg: ClusterConfiguration): Promise<void> {
  log(`destroying cluster ${q(cfg.name)}`)
  await doStop(cfg, true)
  const cDir = join(cfg.kubeSpawnDir, cfg.name)
  try {
    await rm(cDir, { recursive: true, force: true })
  } catch (e) {
    logFatal(`error removing cluster dir at ${q(cDir)}: ${goError(e)}`)
  }
  // RemoveCniConfig: /var/lib/cni and the nspawn network config are host-wide; nothing to remove in the world
  log(`${q(cfg.name)} destroyed`)
}

/** time.Stamp: "Jan _2 15:04:05" */
function stamp(d: Date): string {
  const month = d.toLocaleString('en-US', { month: 'short' })
  const pad = (n: number): string => String(n).padStart(2, '0')
  return `${month} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

async function doList(): Promise<void> {
  const ksDir = String(givenFlags.dir ?? DefaultKubeSpawnDir)
  let names: string[] = []
  try {
    names = (await readdir(ksDir)).sort()
  } catch {
    names = []
  }
  const found: [string, string][] = []
  for (const name of names) {
    if (name.startsWith('.')) continue // skip .cache
    const fi = await stat(join(ksDir, name)).catch(() => null)
    if (!fi) logFatal(`stat ${join(ksDir, name)}: no such file or directory`)
    if (!fi.isDirectory()) continue
    let clusterName = name
    const { error } = await loadConfig({ ...givenFlags, dir: ksDir, 'cluster-name': name })
    if (error) clusterName += ' [INVALID]'
    found.push([clusterName, stamp(fi.mtime)])
  }
  if (found.length < 1) {
    log('no environments found')
    return
  }
  const row = (a: string, b: string): string => `${a.padEnd(18)}  ${b}`
  log(row('ENV NAME', 'LAST MODIFIED'))
  for (const [a, b] of found) log(row(a, b))
  log(`\n${found.length} environment(s) found`)
}

// ---------------------------------------------------------------- main

async function main(argv: string[]): Promise<void> {
  let parsed
  try {
    parsed = parse(program, argv)
  } catch (e) {
    if (e instanceof UnknownCommandError) {
      process.stderr.write(`Error: ${e.message}\nRun 'kube-spawn --help' for usage.\n`)
      process.exit(1)
    }
    if (e instanceof UsageError) {
      process.stderr.write(`Error: ${e.message}\n${usage(program, e.command)}\n`)
      process.exit(1)
    }
    throw e
  }
  const { command, values, changed, args } = parsed
  if (parsed.help) {
    process.stdout.write(help(program, command?.name === 'help' ? null : command))
    return
  }
  if (command?.name === 'help') {
    const target = args[0] ? program.commands.find((c) => c.name === args[0]) : null
    if (args[0] && !target) {
      process.stdout.write(`Unknown help topic [${args.map((a) => '`' + a + '`').join(' ')}]\n${usage(program, null)}`)
      return
    }
    process.stdout.write(help(program, target ?? null))
    return
  }

  givenFlags = {}
  for (const key of settingKeys) {
    if (changed.has(key)) (givenFlags as Record<string, unknown>)[key] = values[key]
  }

  if (!command) {
    if (values.version === true) {
      process.stdout.write(`kube-spawn ${version}\n`)
      process.exit(0)
    }
    process.stderr.write(usage(program, null))
    return
  }

  const tooMany = (): void => {
    if (args.length > 0) logFatal(`too many arguments: [${args.join(' ')}]`)
  }
  switch (command.name) {
    case 'create':
      if (!isRoot()) logFatal('non-root user cannot create clusters. abort.')
      tooMany()
      await doCreate()
      break
    case 'start':
      if (!isRoot()) logFatal('non-root user cannot start clusters. abort.')
      tooMany()
      await doStart(await loadClusterConfig(), values['skip-cluster-init'] === true)
      break
    case 'stop':
      if (!isRoot()) logFatal('non-root user cannot stop clusters. abort.')
      tooMany()
      await doStop(await loadClusterConfig(), values.force === true)
      break
    case 'restart': {
      const cfg = await loadClusterConfig()
      await doStop(cfg, values.force === true)
      await doStart(cfg, values['skip-cluster-init'] === true)
      break
    }
    case 'destroy':
      await doDestroy(await loadClusterConfig())
      break
    case 'up':
      if (!isRoot()) logFatal('non-root user cannot create & start clusters. abort.')
      tooMany()
      await doCreate()
      await doStart(await loadClusterConfig(), false)
      break
    case 'list':
      tooMany()
      await doList()
      break
  }
}

try {
  await main(process.argv.slice(2))
} catch (e) {
  logFatal((e as Error).message)
}
