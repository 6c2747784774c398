// smoke-test: the article's "Testing the new DenyAttach admission controller"
// against the variant's cluster. Once all nodes are Ready and the API server
// reports the version that was built (the cluster must run your build, not
// another), each of the variant's testers runs; every expectation is recorded
// as passed or failed with what was seen, and any failure fails the step.
import { randomBytes } from 'node:crypto'
import { formatCommandLine } from '../engine/runner/command-line.ts'
import { CommandError, StepError } from '../engine/errors.ts'
import type { SmokeTarget } from '../engine/plugin.ts'
import type { SmokeResult, Task, TaskContext } from '../engine/run/task.ts'
import { exists } from './docker.ts'
import { openStep, type Step } from '../engine/run/step-io.ts'

export function waitNodesReadyArgv(timeoutSeconds: number): string[] {
  return ['kubectl', 'wait', '--for=condition=Ready', 'node', '--all', `--timeout=${timeoutSeconds}s`]
}

export function getNodesArgv(): string[] {
  return ['kubectl', 'get', 'nodes']
}

export function nodeNamesArgv(): string[] {
  return ['kubectl', 'get', 'nodes', '-o', 'name']
}

export function versionArgv(): string[] {
  return ['kubectl', 'version', '-o', 'json']
}

/** serverVersion.gitVersion of `kubectl version -o json`. */
export function parseServerGitVersion(json: string): string | undefined {
  try {
    const version = JSON.parse(json) as { serverVersion?: { gitVersion?: unknown } }
    const gitVersion = version.serverVersion?.gitVersion
    return typeof gitVersion === 'string' ? gitVersion : undefined
  } catch {
    return undefined
  }
}

type Kubectl = (argv: string[], options?: { timeoutMs?: number; capture?: boolean }) => ReturnType<Step['run']>

export const smokeTest: Task = {
  id: 'smoke-test',
  description: "check that the cluster runs the build and passes the variant's smoke tests (kubectl attach must be Forbidden, ...)",
  title: (ctx) => {
    const tests = ctx.variant.smoke.map((tester) => tester.describe())
    return `Smoke-test cluster ${ctx.variant.cluster}${tests.length ? `: ${tests.join('; ')}` : ''}`
  },
  async run(ctx, services) {
    const step = openStep('smoke-test', ctx, services)
    const cluster = ctx.variant.cluster
    const kubeconfig = ctx.state.kubeconfig ?? ctx.variant.deployer.kubeconfig(cluster)
    if (!step.dryRun && !(await exists(kubeconfig))) {
      throw new StepError(`cluster ${cluster} has no kubeconfig at ${kubeconfig}: bring it up first (kspawn task cluster-up --variant ${ctx.variant.name})`)
    }
    const kubectl: Kubectl = (argv, options = {}) => step.run({ argv, env: { KUBECONFIG: kubeconfig }, ...options })
    const results: SmokeResult[] = []
    if (!step.dryRun) ctx.state.smoke = results

    // The cluster's machines, as the deployer's own files list them: each must register as a node.
    const machines = step.dryRun ? 0 : ((await ctx.variant.deployer.status([cluster], step)).get(cluster)?.machines.length ?? 0)
    const nodes = await nodesReady(kubectl, cluster, machines, ctx.variant.deployer.readySeconds(), ctx.config.file)
    if (nodes) results.push(nodes)
    if (nodes && !nodes.passed) throw failure(cluster, results)

    const version = await runsTheBuild(kubectl, ctx, step)
    if (version) results.push(version)

    const runId = randomBytes(3).toString('hex')
    const deployer = ctx.variant.deployer
    for (const [index, tester] of ctx.variant.smoke.entries()) {
      const target: SmokeTarget = { cluster, kubeconfig, runId: index === 0 ? runId : `${runId}-${index + 1}` }
      if (deployer.enableAdmissionPlugin) target.enableAdmissionPlugin = (plugin) => deployer.enableAdmissionPlugin!(plugin, { configFile: ctx.config.file, variant: ctx.variant.name })
      results.push(...(await tester.run(target, step)))
    }
    if (results.some((result) => !result.passed)) throw failure(cluster, results)
    if (!step.dryRun) step.info(`cluster ${cluster} passed ${results.length} smoke test expectations`)
  },
}

/**
 * All `machines` registered as nodes, and all nodes Ready, within the
 * deployer's readySeconds; on a timeout, what `kubectl get nodes` shows.
 * Undefined in dry-run.
 */
async function nodesReady(kubectl: Kubectl, cluster: string, machines: number, readySeconds: number, configFile: string): Promise<SmokeResult | undefined> {
  const expectation = `all nodes of cluster ${cluster} are Ready`
  const deadline = Date.now() + readySeconds * 1000
  // Nodes register one by one after the cluster starts: `kubectl wait --all` sees only those already there.
  while (machines > 0) {
    const listed = await kubectl(nodeNamesArgv(), { capture: true, timeoutMs: 60_000 }).catch((error: unknown) => {
      if (error instanceof CommandError) return undefined
      throw error
    })
    if (listed === undefined || listed.dryRun) break
    const registered = (listed.stdout ?? '').split('\n').filter(Boolean).length
    if (registered >= machines) break
    if (Date.now() >= deadline - 2000) {
      const observed = [`$ ${listed.commandLine}`, ...(listed.stdout ?? '').trimEnd().split('\n').filter(Boolean)].join('\n')
      return { expectation, passed: false, observed, message: `only ${registered} of the ${machines} machines of cluster ${cluster} registered as nodes within ${readySeconds}s; if they need longer, raise the deployer's readySeconds in ${configFile}` }
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
  }
  for (;;) {
    const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000))
    try {
      const result = await kubectl(waitNodesReadyArgv(seconds), { timeoutMs: (seconds + 30) * 1000 })
      if (result.dryRun) return undefined
      return { expectation, passed: true, observed: [`$ ${result.commandLine}`, ...result.tail].join('\n') }
    } catch (error) {
      if (!(error instanceof CommandError)) throw error
      // Right after start the nodes may not be registered yet: there is nothing to wait for until they are.
      const noNodes = error.failure.tail.some((line) => line.includes('no matching resources found'))
      if (noNodes && Date.now() < deadline - 2000) {
        await new Promise((resolve) => setTimeout(resolve, 2000))
        continue
      }
      const nodes = await kubectl(getNodesArgv(), { capture: true, timeoutMs: 60_000 }).then(
        (result) => [`$ ${result.commandLine}`, ...(result.stdout ?? '').trimEnd().split('\n')],
        (failed: unknown) => (failed instanceof CommandError ? [`$ ${failed.failure.commandLine}`, ...failed.failure.tail.slice(-5)] : []),
      )
      const observed = [`$ ${error.failure.commandLine}`, ...error.failure.tail.slice(-5), ...nodes].join('\n')
      return { expectation, passed: false, observed, message: `the nodes of cluster ${cluster} were not all Ready within ${readySeconds}s; if they need longer, raise the deployer's readySeconds in ${configFile}` }
    }
  }
}

/** The API server's gitVersion is the one built for the variant. Undefined in dry-run, and when kspawn built nothing to compare with. */
async function runsTheBuild(kubectl: Kubectl, ctx: TaskContext, step: Step): Promise<SmokeResult | undefined> {
  const result = await kubectl(versionArgv(), { capture: true, timeoutMs: 60_000 })
  if (result.dryRun) return undefined
  const seen = parseServerGitVersion(result.stdout ?? '')
  const observed = `$ ${result.commandLine}\nserverVersion.gitVersion: ${seen ?? '(none)'}`
  const expected = ctx.state.gitVersion
  if (expected === undefined) {
    const why = ctx.variant.build ? 'the build of this variant is not recorded (run build first)' : `kspawn did not build ${ctx.variant.image.ref}`
    step.info(`the API server of cluster ${ctx.variant.cluster} runs ${seen ?? 'an unknown version'}; not compared: ${why}`)
    return undefined
  }
  const expectation = `the API server runs the build ${expected}`
  if (seen === expected) return { expectation, passed: true, observed }
  const image = ctx.state.image ?? ctx.variant.tag
  const message =
    seen === undefined
      ? `the API server did not say its version (no serverVersion.gitVersion in ${formatCommandLine(versionArgv())}): expected the build ${expected}`
      : `the API server runs ${seen}, not the build ${expected}: cluster ${ctx.variant.cluster} runs another build than the one made for variant ${ctx.variant.name} (was ${image} made from another tree?)`
  return { expectation, passed: false, observed, message }
}

/** One line per failed expectation, what was seen against what was expected; the output each saw is in state.smoke, which the summary shows. */
function failure(cluster: string, results: SmokeResult[]): StepError {
  const failed = results.filter((result) => !result.passed)
  const lines = failed.map((result) => result.message ?? `expected ${result.expectation}`)
  const passed = results.length - failed.length
  lines.push(`(cluster ${cluster}: ${failed.length} of ${results.length} expectations failed${passed ? `, ${passed} passed` : ''})`)
  return new StepError(lines.join('\n'))
}
