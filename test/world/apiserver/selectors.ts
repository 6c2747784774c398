import { badRequest } from './errors.ts'
import type { KubeObject } from './types.ts'

// Label and field selectors as kubectl sends them (?labelSelector=run%3Dmypod,
// ?fieldSelector=metadata.name%3Dmypod for `kubectl wait` and `kubectl delete`).

export type Matcher = (o: KubeObject) => boolean

export function labelMatcher(selector: string | null): Matcher {
  if (!selector) return () => true
  const terms = splitTerms(selector).map(parseLabelTerm)
  return (o) => terms.every((t) => t(o.metadata.labels ?? {}))
}

function splitTerms(s: string): string[] {
  // Commas inside "in (a,b)" do not separate terms.
  const out: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of s) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      out.push(cur.trim())
      cur = ''
    } else cur += ch
  }
  if (cur.trim()) out.push(cur.trim())
  return out
}

function parseLabelTerm(term: string): (labels: Record<string, string>) => boolean {
  let m = /^(\S+?)\s+(in|notin)\s+\((.*)\)$/.exec(term)
  if (m) {
    const [, k, op, list] = m as unknown as [string, string, string, string]
    const values = list.split(',').map((v) => v.trim())
    return op === 'in' ? (l) => k in l && values.includes(l[k]!) : (l) => !(k in l) || !values.includes(l[k]!)
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term)
  if (m) {
    const [, k, op, v] = m as unknown as [string, string, string, string]
    return op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v
  }
  if (term.startsWith('!')) {
    const k = term.slice(1)
    return (l) => !(k in l)
  }
  if (/^[A-Za-z0-9._\/-]+$/.test(term)) return (l) => term in l
  throw badRequest(`unable to parse requirement: ${term}`)
}

export function fieldMatcher(selector: string | null): Matcher {
  if (!selector) return () => true
  const terms = splitTerms(selector).map((term) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(term)
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`)
    const [, path, op, value] = m as unknown as [string, string, string, string]
    return (o: KubeObject) => {
      const actual = fieldValue(o, path)
      return op === '!=' ? actual !== value : actual === value
    }
  })
  return (o) => terms.every((t) => t(o))
}

function fieldValue(o: KubeObject, path: string): string {
  let cur: unknown = o
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return ''
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur === undefined || cur === null ? '' : String(cur)
}
