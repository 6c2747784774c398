// What `kspawn clusters` and `kspawn down` act through: the runner, as a run
// uses it (dry-run, `sudo -E`, log files), with its commands and messages
// printed as plain lines instead of a task list.
import type { StepIO } from '../engine/plugin.ts'
import type { KspawnEvent } from '../engine/run/events.ts'
import { stepIO } from '../engine/run/step-io.ts'
import { createRunner } from '../engine/runner/runner.ts'
import type { CliDeps } from './deps.ts'

export interface CommandIOOptions {
  /** Where log files go; nothing is written in dry-run. */
  runDir: string
  dryRun: boolean
  /** Names the log file, e.g. `down` → <runDir>/<cluster>/down.log. */
  step: string
}

/** One StepIO per cluster: its commands log to their own file. */
export function commandIO(options: CommandIOOptions, deps: CliDeps): (cluster: string) => StepIO {
  const emit = (event: KspawnEvent) => {
    if (event.kind === 'cmd' && event.dryRun) deps.stdout.write(`$ ${event.commandLine}\n`)
    else if (event.kind === 'info') deps.stdout.write(`${event.message}\n`)
    else if (event.kind === 'warn') deps.stderr.write(`warning: ${event.message}\n`)
  }
  const runner = createRunner({ runDir: options.runDir, dryRun: options.dryRun, isRoot: deps.isRoot, emit })
  return (cluster) => stepIO({ runner, emit, dryRun: options.dryRun, isRoot: deps.isRoot }, { step: options.step, variant: cluster })
}
