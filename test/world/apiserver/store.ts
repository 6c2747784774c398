import { randomUUID } from 'node:crypto'
import type { KubeObject } from './types.ts'

// In-memory object store with one resourceVersion counter, like etcd's revision,
// so list+watch from a resourceVersion replays exactly the missed events.

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoreEvent {
  type: EventType
  object: KubeObject
  rv: number
}

type Listener = (ev: StoreEvent) => void

const HISTORY = 2000

export class TooOldError extends Error {}

export class Store {
  private rv = 100
  private readonly objects = new Map<string, Map<string, KubeObject>>()
  private readonly history = new Map<string, StoreEvent[]>()
  private readonly listeners = new Map<string, Set<Listener>>()

  resourceVersion(): string {
    return String(this.rv)
  }

  private bucket(resource: string): Map<string, KubeObject> {
    let b = this.objects.get(resource)
    if (!b) this.objects.set(resource, (b = new Map()))
    return b
  }

  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...this.bucket(resource).values()]
    const picked = namespace ? all.filter((o) => o.metadata.namespace === namespace) : all
    return picked
      .sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)))
      .map((o) => structuredClone(o))
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.bucket(resource).get(key(namespace, name))
    return o ? structuredClone(o) : undefined
  }

  /** Stores a new object, filling uid, creationTimestamp and resourceVersion. */
  create(resource: string, obj: KubeObject): KubeObject {
    const o = structuredClone(obj)
    o.metadata.uid ||= randomUUID()
    o.metadata.creationTimestamp ||= nowSeconds()
    o.metadata.resourceVersion = String(++this.rv)
    this.bucket(resource).set(key(o.metadata.namespace, o.metadata.name), o)
    this.emit(resource, 'ADDED', o)
    return structuredClone(o)
  }

  /**
   * Applies fn to a copy of the object; stores it and emits MODIFIED only when
   * something changed, so periodic reconcilers do not flood watchers.
   */
  mutate(resource: string, namespace: string | undefined, name: string, fn: (o: KubeObject) => void): KubeObject | undefined {
    const b = this.bucket(resource)
    const current = b.get(key(namespace, name))
    if (!current) return undefined
    const next = structuredClone(current)
    fn(next)
    next.metadata.resourceVersion = current.metadata.resourceVersion
    if (JSON.stringify(next) === JSON.stringify(current)) return structuredClone(current)
    next.metadata.resourceVersion = String(++this.rv)
    b.set(key(namespace, name), next)
    this.emit(resource, 'MODIFIED', next)
    return structuredClone(next)
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const b = this.bucket(resource)
    const k = key(namespace, name)
    const current = b.get(k)
    if (!current) return undefined
    b.delete(k)
    const gone = structuredClone(current)
    gone.metadata.resourceVersion = String(++this.rv)
    this.emit(resource, 'DELETED', gone)
    return structuredClone(gone)
  }

  subscribe(resource: string, fn: Listener): () => void {
    let set = this.listeners.get(resource)
    if (!set) this.listeners.set(resource, (set = new Set()))
    set.add(fn)
    return () => set.delete(fn)
  }

  /** Events after rv; throws TooOldError when history no longer reaches back that far. */
  eventsSince(resource: string, rv: number): StoreEvent[] {
    const h = this.history.get(resource) ?? []
    const first = h[0]
    if (first && rv < first.rv - 1 && h.length >= HISTORY) throw new TooOldError(`too old resource version: ${rv} (${first.rv - 1})`)
    return h.filter((e) => e.rv > rv).map((e) => ({ ...e, object: structuredClone(e.object) }))
  }

  private emit(resource: string, type: EventType, object: KubeObject): void {
    const ev: StoreEvent = { type, object, rv: Number(object.metadata.resourceVersion) }
    let h = this.history.get(resource)
    if (!h) this.history.set(resource, (h = []))
    h.push(ev)
    if (h.length > HISTORY) h.splice(0, h.length - HISTORY)
    for (const fn of this.listeners.get(resource) ?? []) fn({ ...ev, object: structuredClone(object) })
  }
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`
}

/** Kubernetes timestamps have second precision (RFC 3339, "Z"). */
export function nowSeconds(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
