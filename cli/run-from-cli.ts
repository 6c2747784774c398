// What `kspawn run`, `kspawn task` and `kspawn pr` share: a run of a
// workflow with what the command line gives every run (its writers,
// environment and root-ness, Ctrl-C), and `--config` carried into the
// commands the run prints.
import type { RunOutcome, RunWorkflowOptions } from '../engine/run/run-workflow.ts'
import type { CliDeps } from './deps.ts'
import type { Interrupts } from './signals.ts'

export type CliRunOptions = Omit<RunWorkflowOptions, 'stdout' | 'stderr' | 'env' | 'isRoot' | 'signal' | 'force' | 'configArgs'> & {
  /** --config, as given on the command line. */
  configFile?: string
}

/**
 * Runs the workflow. A command that watches for interrupts itself (kspawn pr
 * asks GitHub first) hands in its own; otherwise they are watched for the
 * run's length.
 */
export async function runFromCli({ configFile, ...options }: CliRunOptions, deps: CliDeps, interrupts?: Interrupts): Promise<RunOutcome> {
  const { runWorkflow } = await import('../engine/run/run-workflow.ts')
  const watched = interrupts ?? deps.interrupts()
  try {
    return await runWorkflow({
      preflight: (variants, taskIds) => deps.machineProblems({ ...options.config, variants }, taskIds),
      ...options,
      configArgs: configArgs(configFile),
      stdout: deps.stdout,
      stderr: deps.stderr,
      env: deps.env,
      isRoot: deps.isRoot,
      signal: watched.signal,
      force: watched.force,
    })
  } finally {
    if (!interrupts) watched.dispose()
  }
}

/** `--config <file>` when the command line named one. */
export function configArgs(configFile: string | undefined): string[] {
  return configFile === undefined ? [] : ['--config', configFile]
}

