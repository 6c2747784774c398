import { docker, DockerError, imageId } from './docker.ts'

// Image references and "pulls". There is no internet: an image is pullable only
// if the engine already has it, or if it names a registry on the loopback
// address (the world's own registry), which is pulled for real.

/** Kubernetes' default: Always for :latest or an untagged image, else IfNotPresent. */
export function defaultPullPolicy(image: string): string {
  if (image.includes('@')) return 'IfNotPresent'
  const last = image.split('/').pop() ?? image
  const tag = last.includes(':') ? last.split(':').pop() : undefined
  return !tag || tag === 'latest' ? 'Always' : 'IfNotPresent'
}

/** docker.io/library/busybox:latest for "busybox", as the runtime reports it. */
export function fullReference(image: string): string {
  const parts = image.split('/')
  const hasRegistry = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)
  let ref = hasRegistry ? image : parts.length === 1 ? `docker.io/library/${image}` : `docker.io/${image}`
  const last = ref.split('/').pop()!
  if (!last.includes(':') && !last.includes('@')) ref += ':latest'
  return ref
}

function registryHost(image: string): string | undefined {
  const first = image.split('/')[0]!
  return image.includes('/') && /[.:]|^localhost$/.test(first) ? first : undefined
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:\d+$/, '')
  return h === 'localhost' || h.startsWith('127.') || h === '[::1]'
}

export type PullResult = { ok: true; imageId: string; pulled: boolean } | { ok: false; message: string }

export async function pullImage(image: string, policy: string): Promise<PullResult> {
  const have = await imageId(image)
  const host = registryHost(image)
  const reachable = host !== undefined && isLoopback(host)
  if (have && (policy !== 'Always' || !reachable)) return { ok: true, imageId: have, pulled: false }
  if (policy === 'Never' && !have) {
    return { ok: false, message: `Container image "${image}" is not present with pull policy of Never` }
  }
  if (reachable) {
    try {
      await docker(['pull', '--quiet', image], { timeoutMs: 120_000 })
      const id = await imageId(image)
      if (id) return { ok: true, imageId: id, pulled: true }
    } catch (err) {
      const msg = err instanceof DockerError ? err.stderr.trim() : (err as Error).message
      if (have) return { ok: true, imageId: have, pulled: false }
      return { ok: false, message: `rpc error: code = Unknown desc = ${msg}` }
    }
  }
  // What the node's Docker says when the registry cannot be reached at all.
  const registry = host ?? 'registry-1.docker.io'
  return {
    ok: false,
    message: `rpc error: code = Unknown desc = Error response from daemon: Get https://${registry}/v2/: dial tcp: lookup ${registry.replace(/:\d+$/, '')}: no such host`,
  }
}
