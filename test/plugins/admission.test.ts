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
import { admission, admissionFlags, ATTACH_SECONDS, attachArgv, deletePodArgv, judgeAttach, parseAdmissionHelp, parseApiServerPods, podLogsArgv, readAttach, runPodArgv, waitPodReadyArgv } from '../../plugins/admission/index.ts'
import { CommandError } from '../../engine/errors.ts'

const forbidden = `Error from server (Forbidden): pods "kspawn-smoke-a1b2c3" is forbidden: cannot attach to a container, rejected by admission controller`

test('the article pod and kubectl commands', () => {
  assert.is(formatCommandLine(runPodArgv('kspawn-smoke-a1b2c3')), `kubectl run kspawn-smoke-a1b2c3 --image=busybox --labels=run=kspawn-smoke-a1b2c3,app.kubernetes.io/created-by=kspawn-smoke-test --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'`)
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
    'kubectl get pods --selector app.kubernetes.io/created-by=kspawn-smoke-test --output name',
    `kubectl run kspawn-smoke-abc123 --image=busybox --labels=run=kspawn-smoke-abc123,app.kubernetes.io/created-by=kspawn-smoke-test --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'`,
    'kubectl wait --for=condition=Ready pod/kspawn-smoke-abc123 --timeout=120s',
    'kubectl logs --tail=2 kspawn-smoke-abc123',
    'kubectl attach kspawn-smoke-abc123',
    'kubectl delete pod kspawn-smoke-abc123 --ignore-not-found --grace-period=1',
  ])
})

// kube-apiserver 1.36's --help, its admission flags as pflag prints them without a terminal (one line per flag).
const defaultsOn = 'NamespaceLifecycle, LimitRanger, ServiceAccount, TaintNodesByCondition, PodSecurity, Priority, DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize, RuntimeClass, CertificateApproval, CertificateSigning, ClusterTrustBundleAttest, CertificateSubjectRestriction, DefaultIngressClass, MutatingAdmissionPolicy, MutatingAdmissionWebhook, ValidatingAdmissionPolicy, ValidatingAdmissionWebhook, ResourceQuota'
const compiledIn = 'AlwaysAdmit, AlwaysDeny, AlwaysPullImages, CertificateApproval, DefaultStorageClass, DenyAttach, LimitRanger, NamespaceLifecycle, NodeRestriction, ResourceQuota, ValidatingAdmissionWebhook'
const help = [
  'Admission flags:',
  '',
  '      --admission-control-config-file string   File with admission control configuration.',
  `      --disable-admission-plugins strings      admission plugins that should be disabled although they are in the default enabled plugins list (${defaultsOn}). Comma-delimited list of admission plugins: ${compiledIn}. The order of plugins in this flag does not matter.`,
  `      --enable-admission-plugins strings       admission plugins that should be enabled in addition to default enabled ones (${defaultsOn}). Comma-delimited list of admission plugins: ${compiledIn}. The order of plugins in this flag does not matter.`,
  '',
].join('\n')

test("the API server's admission plugins: compiled in from its --help, enabled from its pod's command line", () => {
  const parsed = parseAdmissionHelp(help)
  assert.ok(parsed)
  assert.ok(parsed.registered.includes('DenyAttach'))
  assert.is(parsed.registered.length, 11)
  assert.is(parsed.defaults[0], 'NamespaceLifecycle')
  assert.is(parsed.defaults.at(-1), 'ResourceQuota')
  assert.not.ok(parsed.defaults.includes('DenyAttach'))
  // On a terminal pflag wraps the line, even after the parenthesis.
  const wrapped = help.replace(/ones \(/, 'ones (\n  ').replace(/DefaultStorageClass, DenyAttach/, 'DefaultStorageClass,\n  DenyAttach')
  assert.equal(parseAdmissionHelp(wrapped), parsed)
  assert.is(parseAdmissionHelp('Usage:\n  kube-apiserver [flags]\n'), undefined)

  const flags = admissionFlags(['kube-apiserver', '--advertise-address=172.18.0.2', '--enable-admission-plugins=NodeRestriction', '--disable-admission-plugins', 'LimitRanger,ResourceQuota'])
  assert.equal(flags, { enable: ['NodeRestriction'], disable: ['LimitRanger', 'ResourceQuota'], shown: ['--enable-admission-plugins=NodeRestriction', '--disable-admission-plugins=LimitRanger,ResourceQuota'] })
  assert.equal(admissionFlags(['apiserver', '--admission-control=Initializers,NamespaceLifecycle']).chain, ['Initializers', 'NamespaceLifecycle'])
  // A repeated list flag adds to the list, as kube-apiserver's string slices do.
  assert.equal(admissionFlags(['kube-apiserver', '--enable-admission-plugins=NodeRestriction', '--enable-admission-plugins=DenyAttach']).enable, ['NodeRestriction', 'DenyAttach'])

  const pods = JSON.stringify({
    kind: 'PodList',
    items: [{ metadata: { name: 'kube-apiserver-web-control-plane' }, spec: { containers: [{ name: 'kube-apiserver', command: ['kube-apiserver', '--enable-admission-plugins=NodeRestriction'], args: ['--v=2'] }] } }],
  })
  assert.equal(parseApiServerPods(pods), [{ name: 'kube-apiserver-web-control-plane', command: ['kube-apiserver', '--enable-admission-plugins=NodeRestriction', '--v=2'] }])
  assert.equal(parseApiServerPods('not json'), [])
})

/** A StepIO whose kubectl answers as a cluster would: `answers` maps the start of a command line to its output, or to an Error for a failure. */
function scriptedCluster(answers: [string, string | Error][]): StepIO & { ran: string[] } {
  const ran: string[] = []
  return {
    ran,
    dryRun: false,
    isRoot: true,
    info: () => {},
    warn: () => {},
    run: async (command): Promise<CommandResult> => {
      const commandLine = formatCommandLine(command.argv)
      ran.push(commandLine)
      const answer = answers.find(([start]) => commandLine.startsWith(start))?.[1] ?? ''
      const tail = typeof answer === 'string' ? answer.split('\n').filter(Boolean) : []
      if (answer instanceof Error) {
        throw new CommandError({ step: 'smoke-test', commandLine, exitCode: 1, signal: null, outcome: 'exited with code 1', tail: [answer.message] })
      }
      if (commandLine.startsWith('kubectl attach')) {
        throw new CommandError({ step: 'smoke-test', commandLine, exitCode: null, signal: 'SIGTERM', timedOut: true, outcome: `timed out after ${ATTACH_SECONDS}s`, tail: ['Mon Dec  1 22:40:01 UTC 2026'] })
      }
      return { argv: command.argv, commandLine, exitCode: 0, signal: null, durationMs: 1, stdout: answer, tail, dryRun: false }
    },
  }
}

const mirrorPod = (flag: string) =>
  JSON.stringify({ items: [{ metadata: { name: 'kube-apiserver-web-control-plane' }, spec: { containers: [{ name: 'kube-apiserver', command: ['kube-apiserver', '--authorization-mode=Node,RBAC', flag] }] } }] })
const target = { cluster: 'web', kubeconfig: '/d/web/kubeconfig', runId: 'abc123', enableAdmissionPlugin: (plugin: string) => `add '${plugin}' to admissionPlugins` }

test('attach let through by a plugin compiled in but not enabled: the failure says so, and how to enable it', async () => {
  const io = scriptedCluster([
    ['kubectl logs', 'Mon Dec  1 22:40:00 UTC 2026\n'],
    ['kubectl get pods --namespace kube-system', mirrorPod('--enable-admission-plugins=NodeRestriction')],
    ['kubectl exec --namespace kube-system kube-apiserver-web-control-plane -- kube-apiserver --help', help],
  ])
  const results = await admission.denies('attach', { plugin: 'DenyAttach', message: 'rejected by admission controller' }).run(target, io)
  const attach = results.at(-1)!
  assert.is(attach.expectation, 'attach is denied by DenyAttach with "rejected by admission controller"')
  assert.is(attach.passed, false)
  assert.match(attach.message!, /^attach was allowed \(the pod's output came through: "Mon Dec  1 22:40:01 UTC 2026"\): expected it to be denied with "rejected by admission controller"; /)
  assert.match(attach.message!, /DenyAttach is compiled into the API server \(kube-apiserver --help lists it\) but not among its enabled admission plugins \(--enable-admission-plugins=NodeRestriction\); add 'DenyAttach' to admissionPlugins$/)
  assert.match(attach.observed, /kube-apiserver-web-control-plane: --enable-admission-plugins=NodeRestriction/)
  assert.match(attach.observed, /compiled in: AlwaysAdmit, .*DenyAttach/)
  assert.ok(io.ran.at(-1)!.startsWith('kubectl delete pod kspawn-smoke-abc123'))
})

test('attach let through: a build without the plugin, a plugin enabled all the same, an API server that cannot be asked', async () => {
  const withoutIt = help.replaceAll('DenyAttach, ', '')
  let results = await admission.denies('attach', { plugin: 'DenyAttach' }).run(target, scriptedCluster([
    ['kubectl logs', 'Mon Dec  1 22:40:00 UTC 2026\n'],
    ['kubectl get pods --namespace kube-system', mirrorPod('--enable-admission-plugins=NodeRestriction,DenyAttach')],
    ['kubectl exec', withoutIt],
  ]))
  assert.match(results.at(-1)!.message!, /; DenyAttach is not compiled into the API server \(kube-apiserver --help in pod kube-apiserver-web-control-plane does not list it\): the cluster runs a build without it$/)

  results = await admission.denies('attach', { plugin: 'DenyAttach' }).run(target, scriptedCluster([
    ['kubectl logs', 'Mon Dec  1 22:40:00 UTC 2026\n'],
    ['kubectl get pods --namespace kube-system', mirrorPod('--enable-admission-plugins=NodeRestriction,DenyAttach')],
    ['kubectl exec', help],
  ]))
  assert.match(results.at(-1)!.message!, /; DenyAttach is compiled into the API server and enabled \(--enable-admission-plugins=NodeRestriction,DenyAttach\), yet it let attach through$/)

  results = await admission.denies('attach', { plugin: 'DenyAttach' }).run({ cluster: 'web', kubeconfig: '/d/web/kubeconfig', runId: 'abc123' }, scriptedCluster([
    ['kubectl logs', 'Mon Dec  1 22:40:00 UTC 2026\n'],
    ['kubectl get pods --namespace kube-system', JSON.stringify({ items: [] })],
  ]))
  assert.match(results.at(-1)!.message!, /; could not tell whether DenyAttach is compiled into the API server and enabled: the cluster shows no kube-apiserver pod in kube-system \(label component=kube-apiserver\)$/)

  results = await admission.denies('attach', { plugin: 'DenyAttach' }).run(target, scriptedCluster([
    ['kubectl logs', 'Mon Dec  1 22:40:00 UTC 2026\n'],
    ['kubectl get pods --namespace kube-system', mirrorPod('--enable-admission-plugins=NodeRestriction')],
    ['kubectl exec', new Error('error: unable to upgrade connection: container not found ("kube-apiserver")')],
  ]))
  assert.match(results.at(-1)!.message!, /; could not tell whether DenyAttach is compiled into the API server and enabled: kubectl exec --namespace kube-system kube-apiserver-web-control-plane -- kube-apiserver --help exited with code 1$/)
  assert.match(results.at(-1)!.observed, /unable to upgrade connection/)

  // Without a plugin named, the test asks nothing more.
  const io = scriptedCluster([['kubectl logs', 'Mon Dec  1 22:40:00 UTC 2026\n']])
  results = await admission.denies('attach').run(target, io)
  assert.is(results.at(-1)!.passed, false)
  assert.not.ok(io.ran.some((line) => line.includes('kube-system')))
})

test('a plugin name that is not one is refused, naming the field', () => {
  const base = { kubernetes: { checkout: '/k' }, variants: { web: { image: 'r/h:v1' } }, deployer: { kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/d', sudo: 'auto' } } }
  assert.throws(
    () => parseConfig({ ...base, smoke: [admission.denies('attach', { plugin: 'Deny Attach' })] }, { plugins, file: '/p/kspawn.config.ts' }),
    /smoke\[0\]\.plugin: expected the name of an admission plugin, e\.g\. "DenyAttach", found "Deny Attach"/,
  )
  const tester = parseConfig({ ...base, smoke: [{ kind: 'tester', name: 'admission', operation: 'attach', expect: 'deny', plugin: 'DenyAttach' }] }, { plugins, file: '/p/kspawn.config.ts' }).variants[0]?.smoke[0]
  assert.is(tester?.describe(), 'attach is denied by DenyAttach')
})

test.run()
