import { docker } from './docker.ts'
import type { BuildInfo } from './types.ts'

// What the cluster's image was built from: the API server's /version and its
// compiled-in admission plugins come from the master's /hyperkube (or the
// command the spec names, such as one that reads the kube-apiserver of a kind
// node image), each node's version from the kubelet installed in that machine.

export function parseBuildInfo(text: string): BuildInfo {
  const line = text.trim().split('\n').find((l) => l.trim().startsWith('{'))
  if (!line) throw new Error(`no build info JSON in output: ${text.slice(0, 200)}`)
  const info = JSON.parse(line) as BuildInfo
  for (const k of ['gitVersion', 'major', 'minor'] as const) {
    if (typeof info[k] !== 'string') throw new Error(`build info lacks ${k}: ${line}`)
  }
  return info
}

export const HYPERKUBE_BUILD_INFO = ['/hyperkube', '--build-info']

/**
 * Asks the running master machine first; when it is not running, runs the
 * same command in a throwaway container of the image (same binary either way).
 */
export async function readServerBuildInfo(master: string, image: string, command: string[] = HYPERKUBE_BUILD_INFO): Promise<BuildInfo> {
  const [program = '', ...args] = command
  try {
    const { stdout } = await docker(['exec', master, program, ...args], { timeoutMs: 15_000 })
    return parseBuildInfo(stdout)
  } catch (first) {
    try {
      const { stdout } = await docker(
        ['run', '--rm', '--network', 'none', '--entrypoint', program, image, ...args],
        { timeoutMs: 30_000 },
      )
      return parseBuildInfo(stdout)
    } catch (second) {
      throw new Error(
        `cannot read the build info of ${image}: ${(first as Error).message}; ${(second as Error).message}`,
      )
    }
  }
}

export async function readKubeletBuildInfo(machine: string): Promise<BuildInfo> {
  const { stdout } = await docker(['exec', machine, '/usr/bin/kubelet', '--build-info'], { timeoutMs: 15_000 })
  return parseBuildInfo(stdout)
}

/** The /version document of a server built from info. */
export function versionInfo(info: BuildInfo) {
  return {
    major: info.major,
    minor: info.minor,
    gitVersion: info.gitVersion,
    gitCommit: info.gitCommit,
    gitTreeState: info.gitTreeState,
    buildDate: info.buildDate,
    // Kubernetes 1.8 was built with go1.8.3; a build may say otherwise.
    goVersion: info.goVersion ?? 'go1.8.3',
    compiler: 'gc',
    platform: 'linux/amd64',
  }
}
