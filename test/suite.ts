// uvu's suite and test, for every kspawn test file, with what uvu loses kept.
// uvu 0.5 swallows the error of a throwing `before` (or `after.each` after a
// failure): the suite prints a green "(0 / N)" and the process exits 0. Here
// each hook's error is recorded before uvu sees it, and each suite's declared
// tests are counted, so that test/run.ts can fail the run and say which suite
// lost its tests and why.
import { suite as uvuSuite, type Callback, type Test } from 'uvu'

export type { Test } from 'uvu'

export type HookKind = 'before' | 'after' | 'before.each' | 'after.each'

export interface HookFailure {
  suite: string
  hook: HookKind
  /** The test the hook ran for (each-hooks only). */
  test?: string
  error: unknown
}

/** What the wrappers record, read by test/run.ts. Shared through globalThis: a test file and the runner may load this module as two copies. */
export interface SuiteRecords {
  hookFailures: HookFailure[]
  /** Suites with tests declared and not yet handed to uvu by run(), by a key of their own. */
  pending: Map<string, { suite: string; declared: number }>
}

declare global {
  var __kspawnSuiteRecords: SuiteRecords | undefined
}

export function suiteRecords(): SuiteRecords {
  globalThis.__kspawnSuiteRecords ??= { hookFailures: [], pending: new Map() }
  return globalThis.__kspawnSuiteRecords
}

/** A uvu suite whose hook errors and declared tests are recorded. */
export function suite<T extends Record<string, unknown> = Record<string, unknown>>(name = '', context?: T): Test<T> {
  return watched(uvuSuite<T>(name, context), name)
}

/** The unnamed suite of a file, like uvu's `test`. */
export const test: Test = suite()

/**
 * Product steps that a suite's tests build on (fetch, build, image, npm run build), run as
 * the suite's first test so that their failure is reported as such, not lost
 * in a hook. Every later test of the suite then fails at once, saying so.
 * Declare it before the suite's other tests.
 */
export function groundwork(test: Test, title: string, work: () => Promise<void>): void {
  let done = false
  test.before.each((context) => {
    if (context.__test__ !== title && !done) throw new Error(`this test needs "${title}", which did not pass (its failure is reported above)`)
  })
  test(title, async () => {
    await work()
    done = true
  })
}

function watched<T>(inner: Test<T>, name: string): Test<T> {
  const records = suiteRecords()
  // One key per suite object: the unnamed suite is shared by every file that uses `test`.
  const key = `${name || '(unnamed)'}#${Math.random().toString(36).slice(2, 8)}`
  const declare = () => {
    const entry = records.pending.get(key) ?? { suite: name, declared: 0 }
    records.pending.set(key, { ...entry, declared: entry.declared + 1 })
  }
  const guard =
    (hook: HookKind, callback: Callback<T>): Callback<T> =>
    async (context) => {
      try {
        await callback(context)
      } catch (error) {
        records.hookFailures.push({ suite: name, hook, ...(context.__test__ ? { test: context.__test__ } : {}), error })
        throw error
      }
    }
  const outer = ((title: string, callback: Callback<T>) => {
    declare()
    inner(title, callback)
  }) as Test<T>
  outer.only = (title, callback) => {
    declare()
    inner.only(title, callback)
  }
  outer.skip = (title, callback) => inner.skip(title, callback)
  outer.before = Object.assign((callback: Callback<T>) => inner.before(guard('before', callback)), {
    each: (callback: Callback<T>) => inner.before.each(guard('before.each', callback)),
  })
  outer.after = Object.assign((callback: Callback<T>) => inner.after(guard('after', callback)), {
    each: (callback: Callback<T>) => inner.after.each(guard('after.each', callback)),
  })
  outer.run = () => {
    records.pending.delete(key)
    inner.run()
  }
  return outer
}
