// The comment kspawn pr --comment posts: what was built and where it ran,
// each smoke test's result, a failure's step, and no local paths.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { COMMENT_MARKER, commentBody, type CommentFacts } from '../../engine/pr-comment.ts'
import type { VariantRecord } from '../../engine/run-state.ts'

const SHA = 'c117bd7a6f09e2ab0123456789abcdef01234567'

function facts(variant: Partial<VariantRecord>): CommentFacts {
  const record: VariantRecord = { name: 'pr7-kinvolk', fingerprint: '', status: 'passed', tasks: [], state: {}, ...variant }
  return {
    record: { version: 1, id: 'r', workflow: 'pr', config: '/home/alban/kspawn.config.ts', dryRun: false, startedAt: '', status: record.status, variants: [record] },
    variant: record,
    from: 'kinvolk/kubernetes alban/denyattach at c117bd7a6f09',
    sha: SHA,
    image: 'gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-pr7-c117bd7',
    cluster: 'pr7-kinvolk',
    deployer: 'kube-spawn',
    version: '0.1.0',
    home: '/home/alban',
    now: () => new Date(Date.UTC(2026, 10, 24, 20, 31)),
  }
}

test('a pass: the commit, the image, the cluster, and each smoke test in a table', () => {
  const body = commentBody(
    facts({
      state: {
        gitVersion: 'v1.8.5-beta.0.1+c117bd7a6f09e2',
        smoke: [
          { expectation: 'pod kspawn-smoke-1 runs and logs the date', passed: true, observed: '$ kubectl logs --tail=2 kspawn-smoke-1\nTue Nov 24' },
          { expectation: 'attach is denied with "a|b"', passed: true, observed: 'Error from server (Forbidden): cannot attach' },
        ],
      },
    }),
  )
  assert.is(
    body,
    [
      COMMENT_MARKER,
      '### ✅ kspawn passed: the smoke tests pass',
      '',
      'Commit `c117bd7a6f09` (kinvolk/kubernetes alban/denyattach at c117bd7a6f09), built as `gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-pr7-c117bd7` and run on the kube-spawn cluster `pr7-kinvolk`.',
      "The build's version: `v1.8.5-beta.0.1+c117bd7a6f09e2`.",
      '',
      '| Smoke test | Result | Seen |',
      '| --- | --- | --- |',
      '| pod kspawn-smoke-1 runs and logs the date | ✅ passed | $ kubectl logs --tail=2 kspawn-smoke-1 |',
      '| attach is denied with "a\\|b" | ✅ passed | Error from server (Forbidden): cannot attach |',
      '',
      '<sub>kspawn 0.1.0, 2026-11-24 20:31 UTC. Rerunning kspawn pr with --comment updates this comment.</sub>',
      '',
    ].join('\n'),
  )
})

test('a failed smoke test shows what was seen against what was expected', () => {
  const body = commentBody(
    facts({
      status: 'failed',
      stoppedAt: 'smoke-test',
      tasks: [{ id: 'smoke-test', status: 'failed', message: 'a smoke test failed' }],
      state: { smoke: [{ expectation: 'attach is denied', passed: false, observed: '$ kubectl attach x', message: 'attach was allowed: expected it to be denied' }] },
    }),
  )
  assert.match(body, '### ❌ kspawn failed: a smoke test failed\n')
  assert.match(body, '| attach is denied | ❌ failed | attach was allowed: expected it to be denied |')
  assert.not.match(body, 'smoke-test: ')
})

test("a failed step says which, in its message's first line, with the home folder as ~", () => {
  const body = commentBody(
    facts({
      status: 'failed',
      stoppedAt: 'build',
      tasks: [{ id: 'build', status: 'failed', message: 'build (pr7-kinvolk) failed: build/run.sh make exited with 2 (in /home/alban/.kspawn/worktrees/pr7)\n  last lines:\n  make: *** error' }],
    }),
  )
  assert.match(body, '### ❌ kspawn failed at build\n')
  assert.match(body, '\nbuild: build (pr7-kinvolk) failed: build/run.sh make exited with 2 (in ~/.kspawn/worktrees/pr7)\n')
  assert.not.match(body, '/home/alban')
  assert.not.match(body, 'last lines')
})

test.run()
