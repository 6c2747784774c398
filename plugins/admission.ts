// Smoke tests of admission control: run a pod, then check that the API server
// denies (or allows) an operation on it, as `kubectl attach` shows for the
// DenyAttach admission controller.
import type { Tester } from '../engine/plugin.ts'

/** The pod operations a test can exercise, named like their kubectl commands. */
export type AdmissionOperation = 'attach'

export interface AdmissionTester extends Tester {
  readonly name: 'admission'
  readonly operation: AdmissionOperation
  readonly expect: 'deny' | 'allow'
  /** For a denial: text the error must contain (a string) or match (a RegExp). */
  readonly message?: RegExp | string
}

export const admission = {
  /** The API server must refuse `operation`, with an error that contains or matches `message` when given. */
  denies(operation: AdmissionOperation, options: { message?: RegExp | string } = {}): AdmissionTester {
    return { ...options, kind: 'tester', name: 'admission', operation, expect: 'deny' }
  },
  /** The API server must let `operation` through. */
  allows(operation: AdmissionOperation): AdmissionTester {
    return { kind: 'tester', name: 'admission', operation, expect: 'allow' }
  },
}
