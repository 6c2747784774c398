import type { ServerResponse } from 'node:http'

// Errors travel as metav1.Status objects so kubectl prints "Error from server (Reason): message".

export interface StatusDetails {
  name?: string
  kind?: string
  group?: string
  causes?: { reason?: string; message: string; field?: string }[]
  retryAfterSeconds?: number
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details: StatusDetails = {},
  ) {
    super(message)
  }

  status(): Record<string, unknown> {
    return statusObject(this.code, this.reason, this.message, this.details)
  }
}

export function statusObject(code: number, reason: string, message: string, details: StatusDetails = {}) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code }
}

export const notFound = (kind: string, name: string) =>
  new ApiError(404, 'NotFound', `${kind} "${name}" not found`, { name, kind })

export const alreadyExists = (kind: string, name: string) =>
  new ApiError(409, 'AlreadyExists', `${kind} "${name}" already exists`, { name, kind })

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message)

export const forbidden = (kind: string, name: string, why: string) =>
  new ApiError(403, 'Forbidden', `${kind} "${name}" is forbidden: ${why}`, { name, kind })

export const invalid = (kind: string, name: string, causes: { field: string; message: string }[]) =>
  new ApiError(
    422,
    'Invalid',
    `${kindTitle(kind)} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
    { name, kind, causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })) },
  )

// The real server names the kind in the Invalid message as "Pod", not "pods".
function kindTitle(resource: string): string {
  const singular = resource.endsWith('s') ? resource.slice(0, -1) : resource
  return singular.charAt(0).toUpperCase() + singular.slice(1)
}

export const methodNotAllowed = (_method?: string) =>
  new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, {})

export const pathNotFound = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {})

export function sendJson(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body)
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    // Like the real server; also keeps kubectl's HTTP cache from serving a stale /version.
    'Cache-Control': 'no-cache, private',
  })
  res.end(text)
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.end()
    return
  }
  if (err instanceof ApiError) {
    sendJson(res, err.code, err.status())
    return
  }
  const message = err instanceof Error ? err.message : String(err)
  sendJson(res, 500, statusObject(500, 'InternalError', `Internal error occurred: ${message}`))
}

/** The raw HTTP reply for an upgrade request that is refused (the socket is not an http.ServerResponse). */
export function rawStatusReply(err: ApiError): string {
  const body = JSON.stringify(err.status())
  const text: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }
  return (
    `HTTP/1.1 ${err.code} ${text[err.code] ?? 'Error'}\r\n` +
    'Content-Type: application/json\r\n' +
    'Cache-Control: no-cache, private\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  )
}
