import { badRequest } from './errors.ts'
import type { Kubelet } from './kubelet.ts'
import type { KubeObject } from './types.ts'

// Which container of a pod a logs/attach/exec request means, and whether it
// has a Docker container to talk to yet (same messages as the real kubelet).

export function pickContainer(pod: KubeObject, requested: string | null): string {
  const names = (pod.spec.containers as { name: string }[]).map((c) => c.name)
  if (!requested) {
    const byAnnotation = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container']
    if (byAnnotation && names.includes(byAnnotation)) return byAnnotation
    if (names.length === 1) return names[0]!
    throw badRequest(`a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(' ')}]`)
  }
  if (!names.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${pod.metadata.name}`)
  return requested
}

/** The Docker container id, or a BadRequest telling why the container is not there yet. */
export function dockerIdFor(kubelet: Kubelet, pod: KubeObject, container: string): string {
  const state = kubelet.container(pod, container)
  if (state?.id) return state.id
  const waiting = (pod.status?.containerStatuses ?? []).find((s: { name: string }) => s.name === container)?.state?.waiting
  const reason: string = waiting?.reason ?? 'ContainerCreating'
  const why: Record<string, string> = {
    ErrImagePull: 'trying and failing to pull image',
    ImagePullBackOff: 'trying and failing to pull image',
  }
  throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ${why[reason] ?? reason}`)
}
