// Smoke tests of admission control: run a pod, then check that the API server
// denies (or allows) an operation on it, as `kubectl attach` shows for the
// DenyAttach admission controller. Config files import this module, so it
// loads nothing heavy: commands run through the StepIO that the smoke-test
// task hands in.
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { isCommandError } from '../../engine/errors.ts'
import type { SmokeTarget, StepIO, Tester } from '../../engine/plugin.ts'
import type { CommandResult } from '../../engine/runner/runner.ts'
import type { SmokeResult } from '../../engine/run/task.ts'

/** The pod operations a test can exercise, named like their kubectl commands. */
export type AdmissionOperation = 'attach'

export interface AdmissionTester extends Tester {
  readonly name: 'admission'
  readonly operation: AdmissionOperation
  readonly expect: 'deny' | 'allow'
  /** For a denial: text the error must contain (a string) or match (a RegExp). */
  readonly message?: RegExp | string
  /**
   * For a denial: the admission plugin that must deny, e.g. 'DenyAttach'.
   * When the operation goes through, the test asks the API server whether
   * that plugin is compiled in and enabled, and the failure says which.
   */
  readonly plugin?: string
}

/** The label of every smoke-test pod (kubectl run's own run=<pod> is kept beside it): a pod a killed run left behind is found by it. */
export const SMOKE_POD_LABEL = 'app.kubernetes.io/created-by=kspawn-smoke-test'

/** The article's pod: it prints the date every second, so its logs show that it runs. */
export function runPodArgv(pod: string): string[] {
  return ['kubectl', 'run', pod, '--image=busybox', `--labels=run=${pod},${SMOKE_POD_LABEL}`, '--command', '--', '/bin/sh', '-c', 'while true ; do sleep 1 ; date ; done']
}

/** The smoke-test pods in the cluster: those of a run that was killed before it could remove its own. */
export function smokePodsArgv(): string[] {
  return ['kubectl', 'get', 'pods', '--selector', SMOKE_POD_LABEL, '--output', 'name']
}

export function waitPodReadyArgv(pod: string, timeoutSeconds: number): string[] {
  return ['kubectl', 'wait', '--for=condition=Ready', `pod/${pod}`, `--timeout=${timeoutSeconds}s`]
}

/** The article's `kubectl logs <pod> | tail -2`. */
export function podLogsArgv(pod: string): string[] {
  return ['kubectl', 'logs', '--tail=2', pod]
}

export function attachArgv(pod: string): string[] {
  return ['kubectl', 'attach', pod]
}

/** A short grace period: the pod's shell ignores SIGTERM, so the default 30 s would all be waited for. */
export function deletePodArgv(pod: string): string[] {
  return ['kubectl', 'delete', 'pod', pod, '--ignore-not-found', '--grace-period=1']
}

/** The API server's own pod: kubeadm's static pod, which the API server shows as a mirror pod in kube-system. */
export function apiServerPodsArgv(): string[] {
  return ['kubectl', 'get', 'pods', '--namespace', 'kube-system', '--selector', 'component=kube-apiserver', '--output', 'json']
}

/** The API server's help, whose --enable-admission-plugins line lists the plugins compiled in. */
export function apiServerHelpArgv(pod: string): string[] {
  return ['kubectl', 'exec', '--namespace', 'kube-system', pod, '--', 'kube-apiserver', '--help']
}

/** Each API server pod's name and its container's command line (command then args). */
export function parseApiServerPods(json: string): { name: string; command: string[] }[] {
  try {
    const list = JSON.parse(json) as { items?: { metadata?: { name?: unknown }; spec?: { containers?: { name?: unknown; command?: unknown; args?: unknown }[] } }[] }
    return (list.items ?? []).flatMap((pod) => {
      const name = pod.metadata?.name
      if (typeof name !== 'string') return []
      const containers = pod.spec?.containers ?? []
      const container = containers.find((c) => c.name === 'kube-apiserver') ?? containers[0]
      const strings = (value: unknown) => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [])
      return [{ name, command: [...strings(container?.command), ...strings(container?.args)] }]
    })
  } catch {
    return []
  }
}

/** Every value of a flag in a command line, `--name=value` or `--name value`, in order. */
function flagValues(command: readonly string[], name: string): string[] {
  const values: string[] = []
  command.forEach((arg, index) => {
    if (arg.startsWith(`${name}=`)) values.push(arg.slice(name.length + 1))
    else if (arg === name && index + 1 < command.length) values.push(command[index + 1]!)
  })
  return values
}

function names(list: string | undefined): string[] {
  return (list ?? '').split(',').map((name) => name.trim()).filter(Boolean)
}

/** The admission flags of an API server's command line: --enable/--disable-admission-plugins, or before 1.10 --admission-control (the whole chain). */
export function admissionFlags(command: readonly string[]): { enable: string[]; disable: string[]; chain?: string[]; shown: string[] } {
  const flags = ['--enable-admission-plugins', '--disable-admission-plugins', '--admission-control']
  const shown = flags.flatMap((flag) => flagValues(command, flag).map((value) => `${flag}=${value}`))
  // The plugin lists are string slices: a repeated flag adds to them, as kubeadm's repeated extraArgs do.
  const all = (flag: string) => flagValues(command, flag).flatMap(names)
  const chain = flagValues(command, '--admission-control')
  return {
    enable: all('--enable-admission-plugins'),
    disable: all('--disable-admission-plugins'),
    ...(chain.length === 0 ? {} : { chain: all('--admission-control') }),
    shown,
  }
}

/**
 * The --enable-admission-plugins line of `kube-apiserver --help`: the plugins
 * on by default (in parentheses) and every plugin compiled in ("Comma-delimited
 * list of admission plugins: ..."). Undefined when the help has no such line.
 */
export function parseAdmissionHelp(help: string): { defaults: string[]; registered: string[] } | undefined {
  const text = help.replace(/\s+/g, ' ')
  const line = /--enable-admission-plugins strings (.*?)The order of plugins in this flag does not matter/.exec(text)?.[1]
  if (line === undefined) return undefined
  const registered = /Comma-delimited list of admission plugins: (.*?)\.\s*$/.exec(line)?.[1]
  if (registered === undefined) return undefined
  const defaults = /in addition to default enabled ones \(([^)]*)\)/.exec(line)?.[1]
  return { defaults: names(defaults), registered: names(registered) }
}

/** Bounds of the test, in seconds. */
export const POD_READY_SECONDS = 120
/** How long the pod gets to print its first date line once it is Ready. */
export const POD_LOGS_SECONDS = 15
/**
 * An allowed attach streams until stopped; a denied one returns as soon as the
 * server answers. After this long, kubectl still attached counts as allowed
 * only if the pod's output came through; with nothing from the server, it is
 * "no answer".
 */
export const ATTACH_SECONDS = 15

/** A line of busybox `date`, e.g. `Sun Nov 26 15:17:32 UTC 2017`. */
const DATE_LINE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} [A-Z]+ \d{4}$/

const FORBIDDEN = 'Error from server (Forbidden)'

/**
 * Lines kubectl prints by itself, before or without hearing from the server:
 * they say nothing about what the server decided.
 */
const KUBECTL_OWN = [/^If you don't see a command prompt, try pressing enter\.$/, /^Defaulted container "/, /^Unable to use a TTY/]

/** What kubectl attach did: how it ended and the lines it printed. */
export interface AttachOutcome {
  /** null when it was stopped, still attached, after ATTACH_SECONDS. */
  exitCode: number | null
  stillAttached: boolean
  lines: string[]
}

/** What the API server did with the operation, read from kubectl's output. */
export type AttachVerdict =
  /** The server let it through: the container's output streamed (line: the first), or the stream ended cleanly. */
  | { seen: 'allowed'; line?: string }
  | { seen: 'denied'; line: string }
  /** kubectl was still waiting when stopped, and nothing but its own lines came: the server neither allowed nor denied in time. */
  | { seen: 'no answer' }
  /** kubectl failed for another reason (no such pod, no server, ...). */
  | { seen: 'unclear'; line?: string }

export function readAttach(outcome: AttachOutcome): AttachVerdict {
  const lines = outcome.lines.map((line) => line.trim()).filter(Boolean)
  const forbidden = lines.find((line) => line.startsWith(FORBIDDEN))
  if (forbidden !== undefined) return { seen: 'denied', line: forbidden }
  const fromServer = lines.filter((line) => !KUBECTL_OWN.some((own) => own.test(line)))
  if (outcome.stillAttached) return fromServer.length > 0 ? { seen: 'allowed', line: fromServer[0]! } : { seen: 'no answer' }
  if (outcome.exitCode === 0) return fromServer.length > 0 ? { seen: 'allowed', line: fromServer[0]! } : { seen: 'allowed' }
  const last = lines.at(-1)
  return last === undefined ? { seen: 'unclear' } : { seen: 'unclear', line: last }
}

/** One sentence saying how the verdict misses the expectation, or undefined when it meets it. */
export function judgeAttach(tester: Pick<AdmissionTester, 'expect' | 'message'>, verdict: AttachVerdict): string | undefined {
  const expected = tester.expect === 'allow' ? 'expected it to be allowed' : `expected it to be denied${withMessage(tester.message)}`
  switch (verdict.seen) {
    case 'allowed':
      return tester.expect === 'allow' ? undefined : `attach was allowed${verdict.line ? ` (the pod's output came through: "${verdict.line}")` : ''}: ${expected}`
    case 'denied':
      if (tester.expect === 'allow') return `attach was denied with "${verdict.line}": ${expected}`
      return messageMatches(tester.message, verdict.line) ? undefined : `attach was denied with "${verdict.line}": ${expected}`
    case 'no answer':
      return `attach got no answer from the API server within ${ATTACH_SECONDS}s (kubectl printed nothing from the server): neither allowed nor denied; ${expected}`
    case 'unclear':
      return `attach neither went through nor was forbidden${verdict.line ? ` ("${verdict.line}")` : ' (kubectl failed without a word)'}: ${expected}`
  }
}

function withMessage(message: RegExp | string | undefined): string {
  if (message === undefined) return ''
  return typeof message === 'string' ? ` with "${message}"` : ` with ${String(message)}`
}

function messageMatches(message: RegExp | string | undefined, line: string): boolean {
  if (message === undefined) return true
  if (typeof message === 'string') return line.includes(message)
  // A copy without g and y: they make test() depend on where an earlier test() stopped.
  return new RegExp(message.source, message.flags.replace(/[gy]/g, '')).test(line)
}

class AdmissionTest implements AdmissionTester {
  readonly kind: 'tester'
  readonly name: 'admission'
  readonly operation: AdmissionOperation
  readonly expect: 'deny' | 'allow'
  declare readonly message?: RegExp | string
  declare readonly plugin?: string

  constructor(operation: AdmissionOperation, expect: 'deny' | 'allow', options: object) {
    this.kind = 'tester'
    this.name = 'admission'
    this.operation = operation
    this.expect = expect
    // The options become fields as given, unknown ones too, so that config validation reports a misspelt option.
    Object.assign(this, options)
  }

  describe(): string {
    if (this.expect === 'allow') return `${this.operation} is allowed`
    return `${this.operation} is denied${this.plugin ? ` by ${this.plugin}` : ''}${withMessage(this.message)}`
  }

  async run(target: SmokeTarget, io: StepIO): Promise<SmokeResult[]> {
    const pod = `kspawn-smoke-${target.runId}`
    const kubectl = (argv: string[], options: { timeoutMs?: number; capture?: boolean; cleanup?: boolean; leftIfCut?: string } = {}) =>
      io.run({ argv, env: { KUBECONFIG: target.kubeconfig }, ...options })
    const results: SmokeResult[] = []
    // Only one run at a time tests a variant's cluster: a smoke pod found now was left by one that was killed.
    const left = ((await kubectl(smokePodsArgv(), { capture: true })).stdout ?? '').split('\n').filter(Boolean).map((name) => name.replace(/^pod\//, ''))
    for (const stale of left) {
      io.warn(`removing pod ${stale}, a smoke test's pod that an earlier run left behind (it ended without removing it)`)
      await kubectl(deletePodArgv(stale), { timeoutMs: 60_000 })
    }
    try {
      await kubectl(runPodArgv(pod))
      const running = await this.podRuns(pod, kubectl, io.dryRun)
      if (running) results.push(running)
      if (running?.passed === false) return results
      const attach = await this.attach(pod, kubectl, target)
      if (attach) results.push(attach)
      return results
    } finally {
      const by = formatCommandLine(['env', `KUBECONFIG=${target.kubeconfig}`, ...deletePodArgv(pod)])
      try {
        // Also once the run is interrupted: the test's pod is the test's to remove.
        const leftIfCut = `pod ${pod} in cluster ${target.cluster}, the smoke test's (the variant's next smoke test removes it too); remove it with: ${by}`
        await kubectl(deletePodArgv(pod), { timeoutMs: 60_000, cleanup: true, leftIfCut })
      } catch (error) {
        if (!isCommandError(error)) throw error
        io.warn(`could not remove the smoke test's pod ${pod}: ${error.failure.commandLine} ${error.failure.outcome}; remove it with: ${by}`)
      }
    }
  }

  /** The article's check that the pod works: Ready, and printing the date. Undefined in dry-run, which judges nothing. */
  private async podRuns(pod: string, kubectl: Kubectl, dryRun: boolean): Promise<SmokeResult | undefined> {
    const expectation = `pod ${pod} runs and logs the date`
    try {
      await kubectl(waitPodReadyArgv(pod, POD_READY_SECONDS), { timeoutMs: (POD_READY_SECONDS + 30) * 1000 })
    } catch (error) {
      if (!isCommandError(error)) throw error
      const observed = [`$ ${error.failure.commandLine}`, ...error.failure.tail.slice(-5)].join('\n')
      return { expectation, passed: false, observed, message: `pod ${pod} was not Ready within ${POD_READY_SECONDS}s: ${error.failure.outcome}` }
    }
    let logs: CommandResult | undefined
    const deadline = Date.now() + POD_LOGS_SECONDS * 1000
    for (;;) {
      logs = await kubectl(podLogsArgv(pod), { capture: true, timeoutMs: 30_000 })
      if (dryRun) return undefined
      if (dateLines(logs.stdout).length > 0 || Date.now() >= deadline) break
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const lines = (logs.stdout ?? '').split('\n').filter(Boolean)
    const observed = [`$ ${logs.commandLine}`, ...lines].join('\n')
    if (dateLines(logs.stdout).length > 0) return { expectation, passed: true, observed }
    return { expectation, passed: false, observed, message: `pod ${pod} logged no date line within ${POD_LOGS_SECONDS}s of being Ready` }
  }

  private async attach(pod: string, kubectl: Kubectl, target: SmokeTarget): Promise<SmokeResult | undefined> {
    let outcome: AttachOutcome
    let commandLine: string
    try {
      const result = await kubectl(attachArgv(pod), { timeoutMs: ATTACH_SECONDS * 1000 })
      if (result.dryRun) return undefined
      outcome = { exitCode: result.exitCode, stillAttached: false, lines: result.tail }
      commandLine = result.commandLine
    } catch (error) {
      if (!isCommandError(error)) throw error
      const { failure } = error
      outcome = { exitCode: failure.exitCode, stillAttached: failure.timedOut === true, lines: failure.tail }
      commandLine = failure.commandLine
    }
    const verdict = readAttach(outcome)
    let message = judgeAttach(this, verdict)
    const end = outcome.stillAttached ? [`(still attached after ${ATTACH_SECONDS}s: stopped)`] : outcome.exitCode === 0 ? [] : [`(exit code ${outcome.exitCode})`]
    const observed = [`$ ${commandLine}`, ...outcome.lines.slice(-5), ...end]
    if (message !== undefined && verdict.seen === 'allowed' && this.expect === 'deny' && this.plugin !== undefined) {
      const why = await this.whyAllowed(this.plugin, kubectl, target)
      message = `${message}; ${why.finding}`
      observed.push(...why.observed)
    }
    return { expectation: this.describe(), passed: message === undefined, observed: observed.join('\n'), ...(message ? { message } : {}) }
  }

  /**
   * Why the plugin let the operation through, as the API server says: is it
   * compiled in (`kube-apiserver --help` lists it) and enabled (its pod's
   * admission flags, or on by default)?
   */
  private async whyAllowed(plugin: string, kubectl: Kubectl, target: SmokeTarget): Promise<{ finding: string; observed: string[] }> {
    const observed: string[] = []
    const cannotTell = (why: string) => ({ finding: `could not tell whether ${plugin} is compiled into the API server and enabled: ${why}`, observed })
    let pods: { name: string; command: string[] }[]
    try {
      const listed = await kubectl(apiServerPodsArgv(), { capture: true, timeoutMs: 30_000 })
      pods = parseApiServerPods(listed.stdout ?? '')
      observed.push(`$ ${listed.commandLine}`, ...pods.map((pod) => `${pod.name}: ${admissionFlags(pod.command).shown.join(' ') || '(no admission flags)'}`))
    } catch (error) {
      if (!isCommandError(error)) throw error
      observed.push(`$ ${error.failure.commandLine}`, ...error.failure.tail.slice(-3))
      return cannotTell(`${error.failure.commandLine} ${error.failure.outcome}`)
    }
    const pod = pods[0]
    if (pod === undefined) return cannotTell('the cluster shows no kube-apiserver pod in kube-system (label component=kube-apiserver)')
    let help: ReturnType<typeof parseAdmissionHelp>
    try {
      const result = await kubectl(apiServerHelpArgv(pod.name), { capture: true, timeoutMs: 30_000 })
      help = parseAdmissionHelp(result.stdout ?? '')
      observed.push(`$ ${result.commandLine}`, help ? `compiled in: ${help.registered.join(', ')}` : '(no --enable-admission-plugins line)')
    } catch (error) {
      if (!isCommandError(error)) throw error
      observed.push(`$ ${error.failure.commandLine}`, ...error.failure.tail.slice(-3))
      return cannotTell(`${error.failure.commandLine} ${error.failure.outcome}`)
    }
    if (help === undefined) return cannotTell(`kube-apiserver --help in pod ${pod.name} has no --enable-admission-plugins line`)
    const flags = admissionFlags(pod.command)
    const shown = flags.shown.length > 0 ? flags.shown.join(' ') : 'no admission flags'
    if (!help.registered.includes(plugin)) {
      return { finding: `${plugin} is not compiled into the API server (kube-apiserver --help in pod ${pod.name} does not list it): the cluster runs a build without it`, observed }
    }
    const enabled = flags.chain ? flags.chain.includes(plugin) : (help.defaults.includes(plugin) || flags.enable.includes(plugin)) && !flags.disable.includes(plugin)
    if (enabled) return { finding: `${plugin} is compiled into the API server and enabled (${shown}), yet it let attach through`, observed }
    const how = target.enableAdmissionPlugin?.(plugin) ?? `this cluster's deployer has no setting for the API server's --enable-admission-plugins`
    return { finding: `${plugin} is compiled into the API server (kube-apiserver --help lists it) but not among its enabled admission plugins (${shown}); ${how}`, observed }
  }
}

type Kubectl = (argv: string[], options?: { timeoutMs?: number; capture?: boolean; cleanup?: boolean }) => Promise<CommandResult>

function dateLines(text: string | undefined): string[] {
  return (text ?? '').split('\n').filter((line) => DATE_LINE.test(line.trim()))
}

export const admission = {
  /** The API server must refuse `operation`, with an error that contains or matches `message` when given. */
  denies(operation: AdmissionOperation, options: { message?: RegExp | string; plugin?: string } = {}): AdmissionTester {
    return new AdmissionTest(operation, 'deny', options)
  },
  /** The API server must let `operation` through. */
  allows(operation: AdmissionOperation): AdmissionTester {
    return new AdmissionTest(operation, 'allow', {})
  },
}
