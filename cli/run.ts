// `kspawn run <workflow>`: the workflow for the config's variants.
import { unknownVariants } from '../engine/run/run-workflow.ts'
import { formatCommandLine } from '../engine/runner/command-line.ts'
import type { RendererName } from '../engine/terminal.ts'
import { tryLoadConfigFor, type CliDeps } from './deps.ts'
import { workflowProblem } from './registry.ts'
import { configArgs, runFromCli } from './run-from-cli.ts'
import type { UsageProblems } from './usage.ts'

export interface RunCommandOptions {
  /** Undefined when the command line names none, which is refused. */
  workflow: string | undefined
  /** --config */
  config?: string
  variants?: string[]
  concurrency?: number
  recreate?: boolean
  /** --no-cache: false */
  cache?: boolean
  dryRun?: boolean
  resume?: boolean
  /** Remove the run's clusters at the end. */
  teardown?: boolean
  renderer?: RendererName
  /** --progress-interval, in seconds. */
  progressInterval?: number
  /** --junit, absolute. */
  junitFile?: string
}

/**
 * Resolves to the exit status: 0 every variant passed, 1 a step failed, 130
 * interrupted. The workflow and variants are checked first, and refused (exit
 * 2) with the problems the command line already has.
 */
export async function runCommand(options: RunCommandOptions, deps: CliDeps, problems: UsageProblems): Promise<number> {
  const registry = await deps.loadRegistry()
  problems.add(workflowProblem(registry, options.workflow))
  const { config, error } = await tryLoadConfigFor(deps, options.config)
  if (config) problems.add(unknownVariants(config, options.variants ?? []))
  problems.check(error)
  // Known from here: check() refused the line otherwise.
  const workflow = registry.workflows.find((known) => known.id === options.workflow)!
  const outcome = await runFromCli(
    {
      config: config!,
      configFile: options.config,
      workflow,
      variantNames: options.variants,
      concurrency: options.concurrency,
      recreate: options.recreate,
      cache: options.cache,
      dryRun: options.dryRun,
      resume: options.resume,
      teardown: options.teardown,
      renderer: options.renderer,
      progressInterval: options.progressInterval,
      junitFile: options.junitFile,
      resumeCommand: resumeCommand({ ...options, workflow: workflow.id }),
    },
    deps,
  )
  return outcome.exitCode
}

function resumeCommand(options: RunCommandOptions & { workflow: string }): string {
  const argv = ['kspawn', 'run', options.workflow, ...configArgs(options.config)]
  for (const variant of options.variants ?? []) argv.push('--variant', variant)
  if (options.recreate) argv.push('--recreate')
  if (options.cache === false) argv.push('--no-cache')
  return formatCommandLine([...argv, '--resume'])
}
