// The admission tester without a cluster: its command lines, how it reads
// what kubectl attach printed, and the sentences a user gets when an
// expectation is missed.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { loadPlugins, parseConfig } from '../../engine/config/config-schema.ts'
import { builtinPlugins } from '../../plugins/index.ts'

const plugins = await loadPlugins(builtinPlugins)
import type { StepIO } from '../../engine/plugin.ts'
import type { CommandResult } from '../../engine/runner/runner.ts'
import { admission, ATTACH_SECONDS, attachArgv, deletePodArgv, judgeAttach, podLogsArgv, readAttach, runPodArgv, waitPodReadyArgv } from '../../plugins/admission/index.ts'

const forbidden = `Error from server (Forbidden): pods "kspawn-smoke-a1b2c3" is forbidden: cannot attach to a container, rejected by admission controller`

test('the article pod and kubectl commands', () => {
  assert.is(formatCommandLine(runPodArgv('kspawn-smoke-a1b2c3')), `kubectl run kspawn-smoke-a1b2c3 --image=busybox --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'`)
  assert.equal(waitPodReadyArgv('p', 120), ['kubectl', 'wait', '--for=condition=Ready', 'pod/p', '--timeout=120s'])
  assert.equal(podLogsArgv('p'), ['kubectl', 'logs', '--tail=2', 'p'])
  assert.equal(attachArgv('p'), ['kubectl', 'attach', 'p'])
  assert.equal(deletePodArgv('p'), ['kubectl', 'delete', 'pod', 'p', '--ignore-not-found', '--grace-period=1'])
})

test("reading attach: judged by what the server said or streamed, never by kubectl's own prompt", () => {
  const prompt = "If you don't see a command prompt, try pressing enter."
  const date = 'Sun Nov 26 15:17:32 UTC 2017'
  assert.equal(readAttach({ exitCode: 1, stillAttached: false, lines: [prompt, forbidden] }), { seen: 'denied', line: forbidden })
  // Streaming: the pod's output came through the server.
  assert.equal(readAttach({ exitCode: null, stillAttached: true, lines: [prompt, date, date] }), { seen: 'allowed', line: date })
  // kubectl prints its prompt before it hears from the server: a server that never answers is no answer, not an allowed attach.
  assert.equal(readAttach({ exitCode: null, stillAttached: true, lines: [prompt] }), { seen: 'no answer' })
  assert.equal(readAttach({ exitCode: null, stillAttached: true, lines: ['Defaulted container "mypod" out of: mypod, sidecar', prompt] }), { seen: 'no answer' })
  assert.equal(readAttach({ exitCode: null, stillAttached: true, lines: [] }), { seen: 'no answer' })
  // A stream that the server ended cleanly.
  assert.equal(readAttach({ exitCode: 0, stillAttached: false, lines: [] }), { seen: 'allowed' })
  const missing = 'Error from server (NotFound): pods "p" not found'
  assert.equal(readAttach({ exitCode: 1, stillAttached: false, lines: [prompt, missing] }), { seen: 'unclear', line: missing })
  assert.equal(readAttach({ exitCode: 1, stillAttached: false, lines: [] }), { seen: 'unclear' })
})

test('judging: what was seen against what was expected, in one sentence', () => {
  const denied = { seen: 'denied', line: forbidden } as const
  const allowed = { seen: 'allowed' } as const
  assert.is(judgeAttach({ expect: 'deny', message: /rejected by admission controller/ }, denied), undefined)
  assert.is(judgeAttach({ expect: 'deny', message: 'cannot attach to a container, rejected by admission controller' }, denied), undefined)
  assert.is(judgeAttach({ expect: 'deny' }, denied), undefined)
  assert.is(judgeAttach({ expect: 'deny', message: /rejected by admission controller/ }, allowed), 'attach was allowed: expected it to be denied with /rejected by admission controller/')
  assert.is(
    judgeAttach({ expect: 'deny', message: /rejected by DenyAttach$/ }, denied),
    `attach was denied with "${forbidden}": expected it to be denied with /rejected by DenyAttach$/`,
  )
  assert.is(judgeAttach({ expect: 'allow' }, allowed), undefined)
  assert.is(judgeAttach({ expect: 'allow' }, denied), `attach was denied with "${forbidden}": expected it to be allowed`)
  assert.is(
    judgeAttach({ expect: 'deny', message: /rejected by/ }, { seen: 'allowed', line: 'Sun Nov 26 15:17:32 UTC 2017' }),
    `attach was allowed (the pod's output came through: "Sun Nov 26 15:17:32 UTC 2017"): expected it to be denied with /rejected by/`,
  )
  assert.is(
    judgeAttach({ expect: 'deny' }, { seen: 'no answer' }),
    `attach got no answer from the API server within ${ATTACH_SECONDS}s (kubectl printed nothing from the server): neither allowed nor denied; expected it to be denied`,
  )
  assert.match(judgeAttach({ expect: 'allow' }, { seen: 'no answer' })!, /^attach got no answer from the API server .*; expected it to be allowed$/)
  assert.is(judgeAttach({ expect: 'deny' }, { seen: 'unclear' }), 'attach neither went through nor was forbidden (kubectl failed without a word): expected it to be denied')
})

test('a global RegExp matches every time, not every other time', () => {
  const tester = { expect: 'deny', message: /rejected/g } as const
  const denied = { seen: 'denied', line: forbidden } as const
  assert.is(judgeAttach(tester, denied), undefined)
  assert.is(judgeAttach(tester, denied), undefined)
})

test('testers describe their expectation; a config sees their fields only', () => {
  assert.is(admission.denies('attach', { message: /rejected by/ }).describe(), 'attach is denied with /rejected by/')
  assert.is(admission.denies('attach', { message: 'rejected by' }).describe(), 'attach is denied with "rejected by"')
  assert.is(admission.denies('attach').describe(), 'attach is denied')
  assert.is(admission.allows('attach').describe(), 'attach is allowed')
  assert.equal(Object.keys(admission.denies('attach')), ['kind', 'name', 'operation', 'expect'])
  assert.equal(Object.keys(admission.denies('attach', { message: 'x' })), ['kind', 'name', 'operation', 'expect', 'message'])

  const base = { kubernetes: { checkout: '/k' }, variants: { web: { image: 'r/h:v1' } }, deployer: { kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/d', sudo: 'auto' } } }
  const tester = admission.denies('attach', { message: /x/ })
  assert.is(parseConfig({ ...base, smoke: [tester] }, { plugins, file: '/p/kspawn.config.ts' }).variants[0]?.smoke[0], tester)
  assert.throws(() => parseConfig({ ...base, smoke: [admission.denies('attach', { mesage: 'x' } as never)] }, { plugins, file: '/p/kspawn.config.ts' }), /unknown field "mesage" \(did you mean "message"\?\)/)
})

test('in dry-run the test prints its commands, in order, and judges nothing', async () => {
  const printed: string[] = []
  const io: StepIO = {
    dryRun: true,
    isRoot: true,
    info: () => {},
    warn: () => {},
    run: async (command): Promise<CommandResult> => {
      assert.equal(command.env, { KUBECONFIG: '/d/web/kubeconfig' })
      printed.push(formatCommandLine(command.argv))
      return { argv: command.argv, commandLine: formatCommandLine(command.argv), exitCode: 0, signal: null, durationMs: 0, stdout: '', tail: [], dryRun: true }
    },
  }
  const results = await admission.denies('attach').run({ cluster: 'web', kubeconfig: '/d/web/kubeconfig', runId: 'abc123' }, io)
  assert.equal(results, [])
  assert.equal(printed, [
    `kubectl run kspawn-smoke-abc123 --image=busybox --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'`,
    'kubectl wait --for=condition=Ready pod/kspawn-smoke-abc123 --timeout=120s',
    'kubectl logs --tail=2 kspawn-smoke-abc123',
    'kubectl attach kspawn-smoke-abc123',
    'kubectl delete pod kspawn-smoke-abc123 --ignore-not-found --grace-period=1',
  ])
})

test.run()
