// The pieces config schemas are made of, for kspawn's own schema and for each
// plugin's options: fields that say what they expected and what they found,
// objects that name an unknown field (and guess the one meant), and how
// values and field paths are shown in messages.
import type { ZodRawShape } from 'zod'
import { z } from './zod.ts'
import { closest } from '../closest.ts'
import type { Plugin } from '../plugin.ts'

/**
 * Checks across fields run whenever the value is an object, even when one of
 * its fields is invalid, so that one pass reports every problem.
 */
export const whenObject = { when: (payload: { value: unknown }) => isObject(payload.value) }

/** A whole number of at least `min`, e.g. count('a number of machines', 'machines', 1). */
export function count(what: string, unit: string, min: number, max?: { most: number; why: string }) {
  const range = max ? `${what} from ${min} to ${max.most} (${max.why})` : `${what}, at least ${min}`
  const number = z
    .number({ error: (issue) => expected(range, issue.input) })
    .int({ error: (issue) => expected(`a whole number of ${unit}`, issue.input) })
    .min(min, { error: (issue) => expected(range, issue.input) })
  return max ? number.max(max.most, { error: (issue) => expected(range, issue.input) }) : number
}

/** A string field; `problem` says why a string is invalid ('' for no particular reason), or returns undefined. */
export function text(what: string, problem: (value: string) => string | undefined, shown: (value: string) => string = (value) => value) {
  return z.string({ error: (issue) => expected(what, issue.input) }).check(
    z.superRefine((value, ctx) => {
      const why = problem(value)
      if (why !== undefined) ctx.addIssue({ code: 'custom', message: expected(what, shown(value), why) })
    }),
  )
}

/** A URL as it may be shown: its password, if it has one, replaced by ***. */
export function withoutPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*:)[^/@]*@/i, '$1***@')
}

/** An object whose fields are all known: each unknown field is a problem of its own. */
export function object<Shape extends ZodRawShape>(what: string, shape: Shape) {
  const known = Object.keys(shape)
  return z.looseObject(shape, { error: (issue) => expected(what, issue.input) }).check(
    z.superRefine((value, ctx) => {
      for (const key of Object.keys(value)) {
        if (known.includes(key)) continue
        const guess = closest(key, known)
        const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`
        const fields = known.length === 1 ? 'the field' : 'the fields'
        ctx.addIssue({ code: 'custom', message: `expected only ${fields} ${listed(known)}, found unknown field ${JSON.stringify(key)}${hint}` })
      }
    }, whenObject),
  )
}

export function expected(what: string, value: unknown, why?: string): string {
  return `expected ${what}, found ${found(value)}${why ? ` (${why})` : ''}`
}

/** A value as a message shows it. */
export function found(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === null) return String(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'symbol') return 'a symbol'
  if (value instanceof RegExp) return String(value)
  if (Array.isArray(value)) return 'a list'
  if (isPlugin(value)) return `${value.kind} "${value.name}"`
  return 'an object'
}

/** `variants.denyattach.smoke[0]`; keys that are not plain words are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`
      const name = String(key)
      if (/^[A-Za-z0-9_$-]+$/.test(name)) return index === 0 ? name : `.${name}`
      return `[${JSON.stringify(name)}]`
    })
    .join('')
}

export function listed(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function isPlugin(value: object): value is Plugin {
  return 'kind' in value && typeof value.kind === 'string' && 'name' in value && typeof value.name === 'string'
}
