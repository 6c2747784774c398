// `kind build node-image` from a Kubernetes source tree, as kind v0.32.0's
// pkg/build/nodeimage does it: the version from hack/print-workspace-status.sh,
// the tree's own `make quick-release-images` (its output passed through), then
// the node image made from the base image with a build container, docker cp
// and docker commit.
//
// What differs: kind imports the image tarballs into the containerd of the
// build container (`ctr images import`) and pulls the images kubeadm needs
// besides them (etcd, coredns, pause, kindnetd...); the world's base image has
// no containerd and nothing can be pulled, so the tarballs are copied to
// /kind/images/ as they are (as kind's node images kept them before
// containerd) and nothing else is pulled. Only source builds: url, file,
// release and ci builds need dl.k8s.io.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import type { Logger } from './log.ts'
import { shellQuote, wrap } from './errors.ts'
import { exec } from './exec.ts'
import { lessThan, parseVersion } from './kubeadm.ts'

/** kind v0.32.0's defaults (pkg/build/nodeimage/defaults.go). */
export const DEFAULT_IMAGE = 'kindest/node:latest'
export const DEFAULT_BASE_IMAGE = 'docker.io/kindest/base:v20260601-995e8fa5'

const BINARIES = ['kubeadm', 'kubelet', 'kubectl']
const IMAGES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']
/** KUBE_EXTRA_WHAT appeared in this commit: older trees build their binaries with build/run.sh too. */
const EXTRA_WHAT_SINCE = 'v1.21.0-beta.1.153+35061acc28a666'

export interface BuildOptions {
  image: string
  baseImage: string
  /** The positional argument: here, a Kubernetes source tree (or empty: found as kind finds it). */
  kubeParam: string
  arch: string
  buildType: string
}

/** The make kind runs in the tree (builder_docker.go), make variables as arguments. */
export function makeArgv(kubeRoot: string, arch: string): string[] {
  return [
    'make', '-C', kubeRoot, 'quick-release-images',
    'KUBE_EXTRA_WHAT=cmd/kubeadm cmd/kubectl cmd/kubelet',
    'KUBE_VERBOSE=0', 'KUBE_BUILD_HYPERKUBE=n', 'KUBE_BUILD_CONFORMANCE=n', `KUBE_BUILD_PLATFORMS=linux/${arch}`,
  ]
}

/** detectBuildType: url, file, source (a folder), ci, release (a version), or none. */
function detectBuildType(param: string): string {
  if (/^https?:\/\//.test(param)) return 'url'
  try {
    const info = statSync(param)
    if (info.isFile()) return 'file'
    if (info.isDirectory()) return 'source'
  } catch {
    // not a path
  }
  if (param.startsWith('ci/')) return 'ci'
  if (parseVersion(param)) return 'release'
  return ''
}

function probablyKubeDir(dir: string): boolean {
  try {
    return readFileSync(join(dir, 'go.mod'), 'utf8').includes('module k8s.io/kubernetes')
  } catch {
    return false
  }
}

/** kube.FindSource: the working folder, else $GOPATH/src/k8s.io/kubernetes, else $GOPATH/src/github.com/kubernetes/kubernetes. */
function findSource(): string {
  if (probablyKubeDir(process.cwd())) return process.cwd()
  const gopath = process.env.GOPATH || join(process.env.HOME || homedir(), 'go')
  for (const dir of [join(gopath, 'src', 'k8s.io', 'kubernetes'), join(gopath, 'src', 'github.com', 'kubernetes', 'kubernetes')]) {
    if (probablyKubeDir(dir)) return dir
  }
  throw new Error(`could not find Kubernetes source under current working directory or GOPATH=${gopath}`)
}

/** sourceVersion: the gitVersion line of hack/print-workspace-status.sh, run with sh -c in the tree. */
async function sourceVersion(kubeRoot: string): Promise<string> {
  const output = (await exec(['sh', '-c', `cd ${shellQuote(kubeRoot)} && hack/print-workspace-status.sh`])).stdout.split('\n').filter((l) => l !== '')
  for (const line of output) {
    const space = line.indexOf(' ')
    if (space < 0) throw new Error(`could not parse kubernetes version: ${JSON.stringify(output.join('\n'))}`)
    if (line.slice(0, space) === 'gitVersion') return line.slice(space + 1)
  }
  throw new Error(`could not obtain kubernetes version: ${JSON.stringify(output.join('\n'))}`)
}

interface Bits {
  binaries: string[]
  images: string[]
  version: string
}

/** dockerBuilder.Build: the tree's own build, its output passed through. */
async function buildKubernetes(kubeRoot: string, arch: string): Promise<Bits> {
  const version = await sourceVersion(kubeRoot)
  const parsed = parseVersion(version)
  if (!parsed) throw new Error(`failed to parse source version: could not parse "${version}" as version`)
  try {
    await exec(makeArgv(kubeRoot, arch), { inherit: true })
  } catch (error) {
    throw wrap(error, 'failed to build images')
  }
  if (lessThan(parsed, parseVersion(EXTRA_WHAT_SINCE)!)) {
    const argv = ['build/run.sh', 'make', 'all', 'WHAT=cmd/kubeadm cmd/kubectl cmd/kubelet', ...makeArgv(kubeRoot, arch).slice(5)]
    try {
      await exec(argv, { inherit: true })
    } catch (error) {
      throw wrap(error, 'failed to build binaries')
    }
  }
  const binDir = join(kubeRoot, '_output', 'dockerized', 'bin', 'linux', arch)
  const imageDir = join(kubeRoot, '_output', 'release-images', arch)
  return { binaries: BINARIES.map((b) => join(binDir, b)), images: IMAGES.map((i) => join(imageDir, `${i}.tar`)), version }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** docker.Pull: best effort, retried 4 times after 1, 2, 3, 4 s. */
async function pull(image: string, arch: string): Promise<void> {
  const argv = ['docker', 'pull', `--platform=linux/${arch}`, image]
  for (let i = 0; ; i++) {
    try {
      await exec(argv)
      return
    } catch {
      if (i >= 4) return
      await sleep((i + 1) * 1000)
    }
  }
}

/** A manifest kind writes into every node image; the world applies none of them. */
const MANIFESTS: Record<string, string> = {
  '/kind/manifests/default-cni.yaml': '# kindnetd, kind\'s default CNI: a DaemonSet the test world does not run.\n',
  '/kind/manifests/default-storage.yaml': '# local-path-provisioner and the "standard" StorageClass: the test world does not run them.\n',
}

/** buildContext.buildImage: a build container of the base image, the bits copied in, committed as the image. */
async function buildImage(logger: Logger, options: BuildOptions, bits: Bits): Promise<void> {
  await pull(options.baseImage, options.arch)
  const id = `kind-build-${Math.floor(Date.now() / 1000)}-${Math.floor(Math.random() * 2 ** 31)}`
  const inContainer = (argv: string[], input?: string) => exec(['docker', 'exec', ...(input === undefined ? [] : ['-i']), id, ...argv], input === undefined ? {} : { input })
  try {
    try {
      const proxies = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'].flatMap((name) => {
        const value = process.env[name] || process.env[name.toLowerCase()]
        return value ? ['--env', `${name}=${value}`] : []
      })
      await exec(['docker', 'run', '-d', '--entrypoint=sleep', `--name=${id}`, `--platform=linux/${options.arch}`, '--security-opt', 'seccomp=unconfined', ...proxies, options.baseImage, 'infinity'])
    } catch (error) {
      const failed = wrap(error, 'failed to create build container')
      logger.info(`Image build Failed! Failed to create build container: ${failed.message}`)
      throw failed
    }
    logger.info(`Building in container: ${id}`)
    for (const binary of bits.binaries) {
      const nodePath = `/usr/bin/${basename(binary)}`
      await exec(['docker', 'cp', binary, `${id}:${nodePath}`])
      await inContainer(['chmod', '+x', nodePath])
      await inContainer(['chown', 'root:root', nodePath])
    }
    if (!parseVersion(bits.version)) throw new Error('invalid Kubernetes version')
    const createFile = async (path: string, content: string) => {
      await inContainer(['mkdir', '-p', path.slice(0, path.lastIndexOf('/'))])
      await inContainer(['cp', '/dev/stdin', path], content)
    }
    await createFile('/kind/version', bits.version)
    for (const [path, content] of Object.entries(MANIFESTS)) await createFile(path, content)
    try {
      await inContainer(['mkdir', '-p', '/kind/images'])
      for (const image of bits.images) {
        if (!existsSync(image)) throw new Error(`open ${image}: no such file or directory`)
        await exec(['docker', 'cp', image, `${id}:/kind/images/${basename(image)}`])
      }
    } catch (error) {
      logger.info(`Image build Failed! Failed to load images ${(error as Error).message}`)
      throw error
    }
    try {
      await exec([
        'docker', 'commit',
        '--change', 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]',
        '--change', 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""',
        id, options.image,
      ])
    } catch (error) {
      logger.info(`Image build Failed! Failed to save image: ${(error as Error).message}`)
      throw error
    }
    logger.info(`Image "${options.image}" build completed.`)
  } finally {
    await exec(['docker', 'rm', '-f', '-v', id]).catch(() => undefined)
  }
}

/** nodeimage.Build for source trees. */
export async function buildNodeImage(logger: Logger, options: BuildOptions): Promise<void> {
  if (options.arch !== 'amd64' && options.arch !== 'arm64') logger.info(`unsupported architecture "${options.arch}"`)
  let buildType = options.buildType
  if (buildType === '') {
    buildType = detectBuildType(options.kubeParam)
    if (buildType !== '') logger.info(`Detected build type: "${buildType}"`)
  }
  if (buildType !== '' && buildType !== 'source') {
    throw new Error(`build type "${buildType}" needs dl.k8s.io, which the test world cannot reach: its kind builds node images from a Kubernetes source tree only (--type source)`)
  }
  let kubeRoot = options.kubeParam
  if (kubeRoot === '') {
    try {
      kubeRoot = findSource()
    } catch (error) {
      throw wrap(error, 'error finding kuberoot')
    }
  }
  logger.info(`Building using source: "${kubeRoot}"`)
  logger.info('Starting to build Kubernetes')
  let bits: Bits
  try {
    bits = await buildKubernetes(kubeRoot, options.arch)
  } catch (error) {
    logger.info(`Failed to build Kubernetes: ${(error as Error).message}`)
    throw wrap(error, 'failed to build kubernetes')
  }
  logger.info('Finished building Kubernetes')
  logger.info('Building node image ...')
  await buildImage(logger, options, bits)
}
