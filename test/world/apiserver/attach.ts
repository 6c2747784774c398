import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { admitConnect } from './admission.ts'
import { dockerIdFor, pickContainer } from './containers.ts'
import { dockerSpawn } from './docker.ts'
import { ApiError, badRequest, notFound, rawStatusReply } from './errors.ts'
import type { Kubelet } from './kubelet.ts'
import type { MirrorPods } from './mirror.ts'
import type { Store } from './store.ts'
import type { AdmissionPlugin } from './types.ts'

// pods/attach and pods/exec. kubectl 1.32 opens a WebSocket (GET with
// Sec-WebSocket-Protocol: v5.channel.k8s.io) and falls back to SPDY/3.1 (POST)
// only when the WebSocket upgrade fails. Admission runs first, so a denying
// plugin gets a 403 Status on either attempt. Streams use the remotecommand
// channel framing: one leading byte per binary message names the stream.
// The API server's mirror pod has no container of its own: an exec runs in
// the master machine (see mirror.ts), an attach streams nothing until the
// client leaves.

const STDIN = 0
const STDOUT = 1
const STDERR = 2
const ERROR = 3
const CLOSE = 255
const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io']

export interface StreamTarget {
  namespace: string
  name: string
  subresource: 'attach' | 'exec'
  query: URLSearchParams
}

/** What an admitted request streams: a docker command's output, or (args undefined) nothing at all. */
interface StreamPlan {
  args: string[] | undefined
  stdin: boolean
  stdout: boolean
  stderr: boolean
}

export class StreamServer {
  private readonly wss = new WebSocketServer({
    noServer: true,
    // Prefer v5 (it adds the CLOSE signal for stdin); v4 frames the same way.
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  })
  private readonly live = new Set<WebSocket>()

  constructor(
    private readonly store: Store,
    private readonly kubelet: Kubelet,
    private readonly mirror: MirrorPods,
    private readonly plugins: () => AdmissionPlugin[],
    private readonly log: (msg: string) => void,
  ) {}

  /** Admission and lookup shared by upgrade and plain requests; returns the docker argv to stream. */
  prepare(t: StreamTarget): StreamPlan {
    admitConnect(this.plugins(), 'pods', t.subresource, t.name)
    const pod = this.store.get('pods', t.namespace, t.name)
    if (!pod) throw notFound('pods', t.name)
    if (!pod.spec.nodeName) throw badRequest(`pod ${t.name} does not have a host assigned`)
    const container = pickContainer(pod, t.query.get('container'))
    const spec = (pod.spec.containers as { name: string; stdin?: boolean }[]).find((c) => c.name === container)!
    const flag = (k: string) => t.query.get(k) === 'true' || t.query.get(k) === '1'
    const stdin = flag('stdin')
    const stdout = flag('stdout')
    const stderr = flag('stderr')
    if (!stdin && !stdout && !stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr')
    if (this.mirror.isMirror(pod)) {
      if (t.subresource === 'attach') {
        if (stdin && !spec.stdin) throw badRequest(`container ${container} in pod ${t.name} was not started with stdin`)
        return { args: undefined, stdin, stdout, stderr }
      }
      const command = t.query.getAll('command')
      if (command.length === 0) throw badRequest('you must specify at least one command for the container')
      return { args: this.mirror.execArgs(command, stdin), stdin, stdout, stderr }
    }
    const id = dockerIdFor(this.kubelet, pod, container)
    if (t.subresource === 'attach') {
      if (stdin && !spec.stdin) throw badRequest(`container ${container} in pod ${t.name} was not started with stdin`)
      const args = ['attach', '--sig-proxy=false']
      if (!stdin) args.push('--no-stdin')
      return { args: [...args, id], stdin, stdout, stderr }
    }
    const command = t.query.getAll('command')
    if (command.length === 0) throw badRequest('you must specify at least one command for the container')
    return { args: ['exec', ...(stdin ? ['-i'] : []), id, ...command], stdin, stdout, stderr }
  }

  /** Returns the HTTP status answered: 101 when streaming, else the refusal's code. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: StreamTarget): number {
    let plan: StreamPlan
    try {
      plan = this.prepare(t)
    } catch (err) {
      return this.refuse(socket, err)
    }
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase()
    if (upgrade !== 'websocket') {
      return this.refuse(socket, badRequest(`unable to upgrade connection: ${req.headers.upgrade} is not supported by this server; use WebSocket (${PROTOCOLS.join(', ')})`))
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim())
    if (!PROTOCOLS.some((p) => offered.includes(p))) {
      return this.refuse(socket, badRequest(`unable to upgrade connection: none of the offered protocols [${offered.join(', ')}] is supported; want one of ${PROTOCOLS.join(', ')}`))
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.stream(ws, plan, t))
    return 101
  }

  private refuse(socket: Duplex, err: unknown): number {
    const apiErr = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message)
    socket.end(rawStatusReply(apiErr))
    return apiErr.code
  }

  private stream(ws: WebSocket, plan: StreamPlan, t: StreamTarget): void {
    this.live.add(ws)
    if (plan.args === undefined) {
      ws.on('close', () => this.live.delete(ws))
      return
    }
    const child = dockerSpawn(plan.args)
    const send = (channel: number, data: Buffer) => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]))
    }
    if (!plan.stdin) child.stdin?.end()
    child.stdout?.on('data', (d: Buffer) => plan.stdout && send(STDOUT, d))
    child.stderr?.on('data', (d: Buffer) => plan.stderr && send(STDERR, d))
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) return
      const channel = data[0]
      if (channel === STDIN && plan.stdin) child.stdin?.write(data.subarray(1))
      else if (channel === CLOSE && data[1] === STDIN) child.stdin?.end()
    })
    child.on('close', (code) => {
      // Attach ends successfully when the container stops; exec reports its exit code.
      const status =
        t.subresource === 'exec' && code !== 0
          ? {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${t.query.getAll('command').join(' ')}], exit code ${code}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
            }
          : { metadata: {}, status: 'Success' }
      send(ERROR, Buffer.from(JSON.stringify(status)))
      if (ws.readyState === ws.OPEN) ws.close(1000)
    })
    child.on('error', (err) => this.log(`${t.subresource} ${t.namespace}/${t.name}: ${err.message}`))
    ws.on('close', () => {
      this.live.delete(ws)
      if (child.exitCode === null) child.kill('SIGKILL')
    })
  }

  close(): void {
    for (const ws of this.live) ws.terminate()
    this.wss.close()
  }
}
