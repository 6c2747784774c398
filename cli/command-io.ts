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
  /** Where the commands' messages (and dry-run lines) go: stdout by default; stderr when stdout holds a document (--json). */
  messagesTo?: 'stdout' | 'stderr'
}

/** One StepIO per cluster: its commands log to their own file. */
export function commandIO(options: CommandIOOptions, deps: CliDeps): (cluster: string) => StepIO {
  const messages = options.messagesTo === 'stderr' ? deps.stderr : deps.stdout
  const emit = (event: KspawnEvent) => {
    if (event.kind === 'cmd' && event.dryRun) messages.write(`$ ${event.commandLine}\n`)
    else if (event.kind === 'info') messages.write(`${event.message}\n`)
    else if (event.kind === 'warn') deps.stderr.write(`warning: ${event.message}\n`)
  }
  const runner = createRunner({ runDir: options.runDir, dryRun: options.dryRun, isRoot: deps.isRoot, emit })
  return (cluster) => stepIO({ runner, emit, dryRun: options.dryRun, isRoot: deps.isRoot }, { step: options.step, variant: cluster })
}
