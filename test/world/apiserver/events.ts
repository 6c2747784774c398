import { nowSeconds, type Store } from './store.ts'
import type { KubeObject } from './types.ts'

// core/v1 Events about pods and nodes, so `kubectl describe` and `kubectl get
// events` tell the same story a real kubelet and scheduler would.

export class EventRecorder {
  private last = 0n

  constructor(private readonly store: Store) {}

  // Like the real recorder: <object>.<hex nanoseconds>, so names sort by time
  // and `kubectl describe` lists same-second events in the order they happened.
  private nextName(object: string): string {
    let ns = BigInt(Date.now()) * 1_000_000n
    if (ns <= this.last) ns = this.last + 1n
    this.last = ns
    return `${object}.${ns.toString(16)}`
  }

  record(
    about: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    source: { component: string; host?: string },
    fieldPath?: string,
  ): void {
    const namespace = about.metadata.namespace ?? 'default'
    const now = nowSeconds()
    // Repeats of the same event are counted, as the real recorder does.
    const same = this.store
      .list('events', namespace)
      .find(
        (e) =>
          (e.involvedObject as { uid: string }).uid === about.metadata.uid &&
          e.reason === reason &&
          e.message === message,
      )
    if (same) {
      this.store.mutate('events', namespace, same.metadata.name, (e) => {
        e.count = Number(e.count ?? 1) + 1
        e.lastTimestamp = now
      })
      return
    }
    this.store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: this.nextName(about.metadata.name),
        namespace,
        uid: '',
        resourceVersion: '',
        creationTimestamp: now,
      },
      involvedObject: {
        kind: about.kind,
        namespace: about.metadata.namespace,
        name: about.metadata.name,
        uid: about.metadata.uid,
        apiVersion: 'v1',
        resourceVersion: about.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    })
  }
}
