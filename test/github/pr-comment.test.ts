// The comment kspawn pr --comment posts: what was built and where it ran,
// each smoke test's result, a failure's step, and no local paths.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { COMMENT_MARKER, commentBody, type CommentFacts } from '../../github/pr-comment.ts'
import type { VariantRecord } from '../../engine/run/run-state.ts'

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
          { expectation: 'all nodes of cluster pr7-kinvolk are Ready', passed: true, observed: '$ kubectl get nodes\nNAME   STATUS   ROLES    AGE   VERSION\nkubespawnpr7-kinvolk1   Ready   <none>   1m   v1.8.5' },
          { expectation: 'pod kspawn-smoke-1 runs and logs the date', passed: true, observed: '$ kubectl logs --tail=2 kspawn-smoke-1\nTue Nov 24 20:30:01 UTC 2026\nTue Nov 24 20:30:02 UTC 2026' },
          {
            expectation: 'attach is denied with "a|b"',
            passed: true,
            observed: [
              '$ kubectl attach kspawn-smoke-1',
              "If you don't see a command prompt, try pressing enter.",
              'Error from server (Forbidden): pods "kspawn-smoke-1" is forbidden: a|b',
              '(exit code 1)',
            ].join('\n'),
          },
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
      // What the commands printed, not the commands: the last lines, HTML-escaped.
      '| all nodes of cluster pr7-kinvolk are Ready | ✅ passed | NAME   STATUS   ROLES    AGE   VERSION<br>kubespawnpr7-kinvolk1   Ready   &lt;none&gt;   1m   v1.8.5 |',
      '| pod kspawn-smoke-1 runs and logs the date | ✅ passed | Tue Nov 24 20:30:01 UTC 2026<br>Tue Nov 24 20:30:02 UTC 2026 |',
      '| attach is denied with "a\\|b" | ✅ passed | If you don\'t see a command prompt, try pressing enter.<br>Error from server (Forbidden): pods "kspawn-smoke-1" is forbidden: a\\|b<br>(exit code 1) |',
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
      state: {
        smoke: [
          {
            expectation: 'attach is denied',
            passed: false,
            observed: ['$ kubectl attach x', "If you don't see a command prompt, try pressing enter.", 'Sun Nov 26 15:17:32 UTC 2017', 'Sun Nov 26 15:17:33 UTC 2017', '(still attached after 8s: stopped)'].join('\n'),
            message: 'attach was allowed: expected it to be denied',
          },
        ],
      },
    }),
  )
  assert.match(body, '### ❌ kspawn failed: a smoke test failed\n')
  assert.match(body, '| attach is denied | ❌ failed | attach was allowed: expected it to be denied<br>Sun Nov 26 15:17:32 UTC 2017<br>Sun Nov 26 15:17:33 UTC 2017<br>(still attached after 8s: stopped) |')
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
