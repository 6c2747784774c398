import { ApiError, badRequest } from './errors.ts'
import type { KubeObject } from './types.ts'

// PATCH as kubectl label/annotate/cordon send it: JSON merge patch and
// strategic merge patch (identical for the map fields allowed to change), and
// RFC 6902 JSON patch for `kubectl patch --type=json`.

export function applyPatch(obj: KubeObject, contentType: string, body: string): KubeObject {
  let patch: unknown
  try {
    patch = JSON.parse(body)
  } catch {
    throw badRequest('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json')
  }
  const type = contentType.split(';')[0]!.trim()
  if (type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json') {
    return mergePatch(obj, patch) as KubeObject
  }
  if (type === 'application/json-patch+json') return jsonPatch(obj, patch)
  throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`)
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (k.startsWith('$')) continue // strategic-merge directives
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

function jsonPatch(obj: KubeObject, patch: unknown): KubeObject {
  if (!Array.isArray(patch)) throw badRequest('json patch must be an array of operations')
  const doc = structuredClone(obj) as unknown as Record<string, unknown>
  for (const op of patch as { op: string; path: string; value?: unknown }[]) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    const last = parts.pop()
    if (last === undefined) throw badRequest(`invalid path ${op.path}`)
    let parent: any = doc
    for (const p of parts) {
      if (parent[p] === undefined && (op.op === 'add' || op.op === 'replace')) parent[p] = {}
      parent = parent[p]
      if (parent === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: path ${op.path} not found`)
    }
    if (op.op === 'add' || op.op === 'replace') {
      if (Array.isArray(parent) && last === '-') parent.push(op.value)
      else parent[last] = op.value
    } else if (op.op === 'remove') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1)
      else delete parent[last]
    } else if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: test failed for ${op.path}`)
    } else throw badRequest(`unsupported json patch operation ${op.op}`)
  }
  return doc as unknown as KubeObject
}
