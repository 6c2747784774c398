import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import type { Duplex } from 'node:stream'
import { StreamServer, type StreamTarget } from './attach.ts'
import { enabledAdmissionPlugins } from './admission.ts'
import { readServerBuildInfo, versionInfo } from './buildinfo.ts'
import {
  AGGREGATED_V2,
  AGGREGATED_V2BETA1,
  aggregatedCore,
  aggregatedGroups,
  apiGroupList,
  apiResourceList,
  apiVersions,
  resourceInfo,
  wantsAggregated,
} from './discovery.ts'
import { ApiError, badRequest, methodNotAllowed, notFound, pathNotFound, rawStatusReply, sendError, sendJson } from './errors.ts'
import { EventRecorder } from './events.ts'
import { Kubelet } from './kubelet.ts'
import { serveLogs } from './logs.ts'
import { serveInMachine, type MachinePort } from './machineport.ts'
import { MirrorPods } from './mirror.ts'
import { createNamespaces } from './namespaces.ts'
import { NodeMonitor } from './nodes.ts'
import { openapiV3CoreV1, openapiV3Paths } from './openapi.ts'
import { applyPatch } from './patch.ts'
import { checkPodUpdate, createPod, deletePod } from './pods.ts'
import { fieldMatcher, labelMatcher } from './selectors.ts'
import type { ApiServerSpec, ReadyInfo } from './spec.ts'
import { Store } from './store.ts'
import { fieldValidation } from './strict.ts'
import { toTable } from './tables.ts'
import type { BuildInfo } from './types.ts'
import { serveWatch } from './watch.ts'

// The HTTP front of the emulator: routing of /api/v1 paths onto the store,
// discovery, /version and health, request logging.

export interface ApiServer {
  url: string
  port: number
  build: BuildInfo
  close(): Promise<void>
}

export interface StartOptions {
  /** One line per request and per notable change; stderr by default. */
  log?: (line: string) => void
}

interface Route {
  resource: string
  namespace?: string
  name?: string
  subresource?: string
  watchPath: boolean
}

export async function startApiServer(spec: ApiServerSpec, options: StartOptions = {}): Promise<ApiServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`))
  const master = spec.machines.find((m) => m.role === 'master') ?? spec.machines[0]
  if (!master) throw new Error('the spec names no machines')
  const build = await readServerBuildInfo(master.name, spec.image, spec.buildInfoCommand)
  const admission = enabledAdmissionPlugins(build, spec.enableAdmissionPlugins, spec.disableAdmissionPlugins)
  log(`cluster ${spec.clusterName}: ${build.gitVersion}, admission plugins: ${admission.map((p) => p.name).join(',') || 'none'}`)
  // Started now, as it takes a while; connections come once the emulator is ready (kubeadm runs after that).
  const inMaster =
    spec.masterPort === undefined ? undefined : serveInMachine(master.name, spec.masterPort, (socket) => server.emit('connection', socket))
  // Its failure is reported below, once the rest has started.
  inMaster?.catch(() => undefined)

  const store = new Store()
  createNamespaces(store)
  const events = new EventRecorder(store)
  const nodes = new NodeMonitor(store, events, spec.machines, spec.nodeReadySeconds * 1000, log)
  await nodes.start()
  const kubelet = new Kubelet(store, events, nodes, {
    clusterName: spec.clusterName,
    master: master.name,
    graceCapSeconds: spec.podGracePeriodCapSeconds ?? 2,
    log,
  })
  await kubelet.adopt()
  kubelet.start()
  const mirror = new MirrorPods(store, nodes, master, spec.apiServerPod, log)
  mirror.start()
  const streams = new StreamServer(store, kubelet, mirror, () => admission, log)

  const server = createServer((req, res) => {
    const t0 = Date.now()
    res.on('close', () => log(`${req.method} ${req.url} ${res.statusCode} ${Date.now() - t0}ms`))
    handle(req, res).catch((err) => {
      if (!(err instanceof ApiError)) log(`error: ${(err as Error).stack ?? err}`)
      sendError(res, err)
    })
  })
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const route = parseRoute(url.pathname)
    let code = 404
    if (route?.resource === 'pods' && route.namespace && route.name && (route.subresource === 'attach' || route.subresource === 'exec')) {
      const target: StreamTarget = { namespace: route.namespace, name: route.name, subresource: route.subresource, query: url.searchParams }
      code = streams.handleUpgrade(req, socket, head, target)
    } else socket.end(rawStatusReply(pathNotFound()))
    log(`${req.method} ${req.url} ${code} (upgrade: ${req.headers.upgrade}${req.headers['sec-websocket-protocol'] ? `, ${req.headers['sec-websocket-protocol']}` : ''})`)
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const path = url.pathname.replace(/\/+$/, '') || '/'
    const q = url.searchParams
    if (path === '/version') return sendJson(res, 200, versionInfo(build))
    if (/^\/(healthz|livez|readyz)(\/.*)?$/.test(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache, private' })
      res.end('ok')
      return
    }
    if (path === '/') {
      return sendJson(res, 200, { paths: ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version'] })
    }
    if (path === '/api') {
      const agg = wantsAggregated(req.headers.accept)
      if (agg) return sendJson(res, 200, aggregatedCore(agg), agg === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1)
      return sendJson(res, 200, apiVersions(req.headers.host ?? '127.0.0.1'))
    }
    if (path === '/apis') {
      const agg = wantsAggregated(req.headers.accept)
      if (agg) return sendJson(res, 200, aggregatedGroups(agg), agg === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1)
      return sendJson(res, 200, apiGroupList())
    }
    if (path === '/api/v1') return sendJson(res, 200, apiResourceList())
    if (path === '/openapi/v3') return sendJson(res, 200, openapiV3Paths())
    if (path === '/openapi/v3/api/v1') return sendJson(res, 200, openapiV3CoreV1())
    const route = parseRoute(path)
    if (!route) throw pathNotFound()
    const info = resourceInfo(route.resource)
    if (!info || (route.namespace && !info.namespaced)) throw pathNotFound()
    const method = req.method ?? 'GET'

    if (route.subresource) {
      if (route.resource !== 'pods' || !route.namespace || !route.name) throw pathNotFound()
      if (route.subresource === 'log') {
        if (method !== 'GET') throw methodNotAllowed(method)
        const pod = store.get('pods', route.namespace, route.name)
        if (!pod) throw notFound('pods', route.name)
        return serveLogs(kubelet, pod, q, req, res, mirror.isMirror(pod))
      }
      if (route.subresource === 'attach' || route.subresource === 'exec') {
        if (method !== 'GET' && method !== 'POST') throw methodNotAllowed(method)
        // Admission and lookup first, as the real server does, then insist on an upgrade.
        streams.prepare({ namespace: route.namespace, name: route.name, subresource: route.subresource, query: q })
        throw badRequest('Upgrade request required')
      }
      throw pathNotFound()
    }

    const namespace = route.namespace
    const watching = route.watchPath || q.get('watch') === 'true' || q.get('watch') === '1'
    const table = tableOptions(req.headers.accept, q)
    if (method === 'GET' && watching) {
      const fieldSel = route.name ? `metadata.name=${route.name}` : q.get('fieldSelector')
      const byField = fieldMatcher(fieldSel)
      const byLabel = labelMatcher(q.get('labelSelector'))
      return serveWatch(store, req, res, {
        resource: route.resource,
        namespace,
        matches: (o) => byField(o) && byLabel(o),
        resourceVersion: q.get('resourceVersion'),
        timeoutSeconds: q.get('timeoutSeconds') ? Number(q.get('timeoutSeconds')) : null,
        sendInitialEvents: q.get('sendInitialEvents') === 'true',
        ...(table ? { table } : {}),
      })
    }
    if (method === 'GET' && !route.name) {
      const byField = fieldMatcher(q.get('fieldSelector'))
      const byLabel = labelMatcher(q.get('labelSelector'))
      const items = store.list(route.resource, namespace).filter((o) => byField(o) && byLabel(o))
      const rv = store.resourceVersion()
      if (table) return sendJson(res, 200, toTable(route.resource, items, rv, table.includeObject))
      return sendJson(res, 200, { kind: `${info.kind}List`, apiVersion: 'v1', metadata: { resourceVersion: rv }, items })
    }
    if (method === 'GET') {
      const obj = store.get(route.resource, namespace, route.name!)
      if (!obj) throw notFound(route.resource, route.name!)
      if (table) return sendJson(res, 200, toTable(route.resource, [obj], obj.metadata.resourceVersion, table.includeObject))
      return sendJson(res, 200, obj)
    }
    if (method === 'POST' && route.resource === 'pods' && namespace && !route.name) {
      const body = await readJson(req)
      const warnings = fieldValidation(body, q.get('fieldValidation'))
      if (warnings.length) res.setHeader('Warning', warnings)
      const pod = createPod(store, kubelet, namespace, body, q.get('dryRun') === 'All')
      return sendJson(res, 201, pod)
    }
    if (method === 'DELETE' && route.resource === 'pods' && namespace && route.name) {
      const text = await readBody(req)
      let options: unknown = {}
      try {
        if (text.trim()) options = JSON.parse(text)
      } catch {
        throw badRequest('the body of the request was not valid DeleteOptions JSON')
      }
      return sendJson(res, 200, deletePod(store, kubelet, namespace, route.name, options, q.get('gracePeriodSeconds')))
    }
    if (method === 'PATCH' && (route.resource === 'pods' || route.resource === 'nodes') && route.name) {
      const before = store.get(route.resource, namespace, route.name)
      if (!before) throw notFound(route.resource, route.name)
      const after = applyPatch(before, String(req.headers['content-type'] ?? ''), await readBody(req))
      if (route.resource === 'pods') checkPodUpdate(before, after)
      const saved = store.mutate(route.resource, namespace, route.name, (o) => {
        o.metadata.labels = after.metadata.labels
        o.metadata.annotations = after.metadata.annotations
        if (route.resource === 'nodes') {
          o.spec.unschedulable = after.spec?.unschedulable
          o.spec.taints = after.spec?.taints
        }
      })!
      return sendJson(res, 200, saved)
    }
    throw methodNotAllowed(method)
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(spec.port ?? 0, '127.0.0.1', () => resolve())
    })
  } catch (err) {
    // Leave nothing running behind a failed start.
    nodes.stop()
    mirror.stop()
    await kubelet.stop()
    await (await inMaster?.catch(() => undefined))?.close()
    throw err
  }
  const port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}`
  let masterPort: MachinePort | undefined
  if (inMaster) {
    try {
      masterPort = await inMaster
    } catch (err) {
      nodes.stop()
      mirror.stop()
      await kubelet.stop()
      server.close()
      throw err
    }
    log(`listening on 127.0.0.1:${spec.masterPort} in machine ${master.name}`)
  }
  if (spec.readyFile) writeReady(spec.readyFile, { pid: process.pid, port, url })
  log(`listening on ${url}`)

  let closing: Promise<void> | undefined
  return {
    url,
    port,
    build,
    close: () =>
      (closing ??= (async () => {
        nodes.stop()
        mirror.stop()
        streams.close()
        await masterPort?.close()
        await kubelet.stop()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
      })()),
  }
}

// /api/v1/<resource>[/<name>[/<sub>]] and /api/v1/namespaces/<ns>/<resource>[/<name>[/<sub>]],
// plus the deprecated /api/v1/watch/... form.
function parseRoute(path: string): Route | undefined {
  const m = /^\/api\/v1\/(.+)$/.exec(path)
  if (!m) return undefined
  let parts = m[1]!.split('/').filter(Boolean).map(decodeURIComponent)
  let watchPath = false
  if (parts[0] === 'watch') {
    watchPath = true
    parts = parts.slice(1)
  }
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    const [, namespace, resource, name, subresource, ...rest] = parts
    if (rest.length) return undefined
    return { resource: resource!, namespace, name, subresource, watchPath }
  }
  const [resource, name, subresource, ...rest] = parts
  if (rest.length || !resource) return undefined
  return { resource, name, subresource, watchPath }
}

/** Server-side printing is asked for with Accept: application/json;as=Table;v=v1;g=meta.k8s.io. */
function tableOptions(accept: string | undefined, q: URLSearchParams): { includeObject: string } | undefined {
  for (const part of (accept ?? '').split(',')) {
    const params = new Map(part.split(';').slice(1).map((p) => p.trim().split('=') as [string, string]))
    if (params.get('as') === 'Table' && params.get('g') === 'meta.k8s.io' && ['v1', 'v1beta1'].includes(params.get('v') ?? '')) {
      return { includeObject: q.get('includeObject') ?? 'Metadata' }
    }
    if (!params.has('as')) return undefined
  }
  return undefined
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = String(req.headers['content-type'] ?? 'application/json')
  if (!type.includes('json')) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`)
  }
  const text = await readBody(req)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw badRequest(`the object provided is unrecognized: ${(err as Error).message}`)
  }
}

function writeReady(file: string, info: ReadyInfo): void {
  mkdirSync(dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(info) + '\n')
  renameSync(tmp, file)
}
