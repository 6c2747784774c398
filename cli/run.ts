// `kspawn run <workflow>`: the workflow for the config's variants.
import { formatCommandLine } from '../engine/runner/command-line.ts'
import type { RendererName } from '../engine/terminal.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'
import { findWorkflow } from './registry.ts'
import { configArgs, runFromCli } from './run-from-cli.ts'

export interface RunCommandOptions {
  workflow: string
  /** --config */
  config?: string
  variants?: string[]
  concurrency?: number
  recreate?: boolean
  dryRun?: boolean
  resume?: boolean
  /** Remove the run's clusters at the end. */
  teardown?: boolean
  renderer?: RendererName
}

/** Resolves to the exit status: 0 every variant passed, 1 a step failed, 130 interrupted. */
export async function runCommand(options: RunCommandOptions, deps: CliDeps): Promise<number> {
  const workflow = findWorkflow(await deps.loadRegistry(), options.workflow)
  const config = await loadConfigFor(deps, options.config)
  const outcome = await runFromCli(
    {
      config,
      configFile: options.config,
      workflow,
      variantNames: options.variants,
      concurrency: options.concurrency,
      recreate: options.recreate,
      dryRun: options.dryRun,
      resume: options.resume,
      teardown: options.teardown,
      renderer: options.renderer,
      resumeCommand: resumeCommand(options),
    },
    deps,
  )
  return outcome.exitCode
}

function resumeCommand(options: RunCommandOptions): string {
  const argv = ['kspawn', 'run', options.workflow, ...configArgs(options.config)]
  for (const variant of options.variants ?? []) argv.push('--variant', variant)
  if (options.recreate) argv.push('--recreate')
  return formatCommandLine([...argv, '--resume'])
}
