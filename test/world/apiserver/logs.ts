import type { IncomingMessage, ServerResponse } from 'node:http'
import { dockerIdFor, pickContainer } from './containers.ts'
import { dockerSpawn } from './docker.ts'
import { badRequest } from './errors.ts'
import type { Kubelet } from './kubelet.ts'
import type { KubeObject } from './types.ts'

// GET .../pods/<name>/log: `docker logs` of the pod's container, streamed.
// follow, tailLines, timestamps, sinceSeconds/sinceTime and limitBytes map onto
// docker's own flags (docker's timestamps are RFC 3339 with nanoseconds, as the kubelet's).

// The API server's mirror pod (mirror: true) has no container log: its log is empty.

export function serveLogs(kubelet: Kubelet, pod: KubeObject, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, mirror = false): void {
  const container = pickContainer(pod, q.get('container'))
  if (q.get('previous') === 'true') {
    throw badRequest(`previous terminated container "${container}" in pod "${pod.metadata.name}" not found`)
  }
  if (mirror) {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' })
    res.end()
    return
  }
  const id = dockerIdFor(kubelet, pod, container)
  const args = ['logs']
  const tail = q.get('tailLines')
  if (tail !== null) {
    if (!/^\d+$/.test(tail)) throw badRequest(`tailLines: Invalid value: "${tail}": must be greater than or equal to 0`)
    args.push('--tail', tail)
  }
  if (q.get('timestamps') === 'true') args.push('--timestamps')
  if (q.get('follow') === 'true') args.push('--follow')
  const sinceSeconds = q.get('sinceSeconds')
  const sinceTime = q.get('sinceTime')
  if (sinceSeconds) args.push('--since', `${Number(sinceSeconds)}s`)
  else if (sinceTime) args.push('--since', sinceTime)
  args.push(id)
  let budget = q.get('limitBytes') ? Number(q.get('limitBytes')) : Infinity

  const child = dockerSpawn(args)
  child.stdin?.end()
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' })
  res.flushHeaders()
  let open = 2
  const finish = () => {
    if (--open === 0 && !res.writableEnded) res.end()
  }
  const forward = (chunk: Buffer) => {
    if (budget <= 0) return
    const part = chunk.length > budget ? chunk.subarray(0, budget) : chunk
    budget -= part.length
    res.write(part)
    if (budget <= 0) {
      child.kill('SIGKILL')
      res.end()
    }
  }
  child.stdout?.on('data', forward).on('end', finish)
  child.stderr?.on('data', forward).on('end', finish)
  child.on('error', () => res.end())
  const stop = () => {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  req.on('close', stop)
  res.on('close', stop)
}
