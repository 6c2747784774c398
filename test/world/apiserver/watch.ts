import type { IncomingMessage, ServerResponse } from 'node:http'
import { ApiError } from './errors.ts'
import type { Matcher } from './selectors.ts'
import { TooOldError, type Store, type StoreEvent } from './store.ts'
import { toTable } from './tables.ts'
import type { KubeObject } from './types.ts'

// ?watch=true: newline-delimited JSON watch events over a chunked response,
// starting after the requested resourceVersion (or with synthetic ADDED events
// for everything, for resourceVersion "" / "0", or sendInitialEvents).

export interface WatchRequest {
  resource: string
  namespace?: string
  matches: Matcher
  resourceVersion: string | null
  timeoutSeconds: number | null
  sendInitialEvents: boolean
  table?: { includeObject: string }
}

export function serveWatch(store: Store, req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
  const inScope = (o: KubeObject) => (!w.namespace || o.metadata.namespace === w.namespace) && w.matches(o)
  let backlog: StoreEvent[] = []
  const rv = w.resourceVersion
  let initialEvents = false
  if (w.sendInitialEvents || !rv || rv === '0') {
    initialEvents = true
    backlog = store.list(w.resource, w.namespace).filter(inScope).map((o) => ({ type: 'ADDED', object: o, rv: Number(o.metadata.resourceVersion) }))
  } else {
    try {
      backlog = store.eventsSince(w.resource, Number(rv)).filter((e) => inScope(e.object))
    } catch (err) {
      if (err instanceof TooOldError) throw new ApiError(410, 'Expired', err.message)
      throw err
    }
  }
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  })
  // Clients wait for the headers before they treat the watch as established.
  res.flushHeaders()
  let first = true
  const write = (type: string, object: unknown) => {
    let payload = object
    if (w.table && type !== 'BOOKMARK') {
      payload = toTable(w.resource, [object as KubeObject], (object as KubeObject).metadata.resourceVersion, w.table.includeObject, first)
      first = false
    }
    res.write(JSON.stringify({ type, object: payload }) + '\n')
  }
  let lastRv = 0
  for (const e of backlog) {
    write(e.type, e.object)
    lastRv = Math.max(lastRv, e.rv)
  }
  if (w.sendInitialEvents && initialEvents) {
    // The end of the initial state, as the WatchList protocol expects it.
    write('BOOKMARK', {
      kind: kindOf(w.resource),
      apiVersion: 'v1',
      metadata: { resourceVersion: store.resourceVersion(), annotations: { 'k8s.io/initial-events-end': 'true' } },
    })
  }
  const unsubscribe = store.subscribe(w.resource, (e) => {
    if (e.rv <= lastRv || !inScope(e.object)) return
    write(e.type, e.object)
  })
  const end = () => {
    unsubscribe()
    clearTimeout(timer)
    if (!res.writableEnded) res.end()
  }
  const timer = setTimeout(end, (w.timeoutSeconds ?? 1800) * 1000)
  req.on('close', end)
  res.on('close', end)
}

function kindOf(resource: string): string {
  return { pods: 'Pod', nodes: 'Node', namespaces: 'Namespace', events: 'Event' }[resource] ?? 'Unknown'
}
