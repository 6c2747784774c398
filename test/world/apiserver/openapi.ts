import { createHash } from 'node:crypto'
import { RESOURCES } from './discovery.ts'

// kubectl create/apply -f validate manifests first. kubectl 1.32 reads
// /openapi/v3 and, when a resource's PATCH operation lists the fieldValidation
// query parameter, leaves validation to the server (?fieldValidation=Strict)
// instead of downloading the full protobuf OpenAPI v2 schema. This document
// says exactly that much about the resources served here.

export function openapiV3Paths(): Record<string, unknown> {
  return { paths: { 'api/v1': { serverRelativeURL: `/openapi/v3/api/v1?hash=${hash()}` } } }
}

let cached: Record<string, unknown> | undefined

export function openapiV3CoreV1(): Record<string, unknown> {
  if (cached) return cached
  const paths: Record<string, unknown> = {}
  const fieldValidation = {
    name: 'fieldValidation',
    in: 'query',
    description: 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.',
    schema: { type: 'string', uniqueItems: true },
  }
  for (const r of RESOURCES) {
    if (!r.verbs.includes('patch')) continue
    const path = r.namespaced ? `/api/v1/namespaces/{namespace}/${r.name}/{name}` : `/api/v1/${r.name}/{name}`
    paths[path] = {
      patch: {
        operationId: `patchCoreV1${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
        parameters: [fieldValidation],
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: '', version: 'v1', kind: r.kind },
      },
    }
  }
  cached = { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1' }, paths, components: { schemas: {} } }
  return cached
}

function hash(): string {
  return createHash('sha512').update(JSON.stringify(openapiV3CoreV1())).digest('hex').slice(0, 128).toUpperCase()
}
