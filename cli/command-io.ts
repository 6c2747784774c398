// What `kspawn clusters` and `kspawn down` act through: the runner, as a run
// uses it (dry-run, `sudo -E`, log files), with its commands and messages
// printed as plain lines instead of a task list.
import { createRunner } from '../engine/runner/runner.ts'
import type { StepIO } from '../engine/plugin.ts'
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
  const runner = createRunner({
    runDir: options.runDir,
    dryRun: options.dryRun,
    isRoot: deps.isRoot,
    emit: (event) => {
      if (event.kind === 'cmd' && event.dryRun) deps.stdout.write(`$ ${event.commandLine}\n`)
    },
  })
  return (cluster) => ({
    dryRun: options.dryRun,
    isRoot: deps.isRoot,
    run: (command) => runner.run(command, { id: options.step, variant: cluster }),
    info: (message) => deps.stdout.write(`${message}\n`),
    warn: (message) => deps.stderr.write(`warning: ${message}\n`),
  })
}
