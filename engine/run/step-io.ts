// What a step acts through: its commands go through the runner (into the
// step's log file and events, printed instead of run in dry-run), its
// messages into the event stream. Tasks, teardown and `kspawn down` each get
// theirs here.
import type { StepIO } from '../plugin.ts'
import type { Command, CommandResult, Runner } from '../runner/runner.ts'
import type { Emit, EventSource } from './events.ts'
import type { Services, TaskContext } from './task.ts'

export interface Step extends StepIO {
  readonly source: EventSource
  /** Aborted when the run is interrupted. */
  readonly signal: AbortSignal
  emit: Emit
}

export interface StepIOOptions {
  runner: Runner
  emit: Emit
  dryRun: boolean
  isRoot: boolean
  /** Aborted when the run is interrupted; never, by default. */
  signal?: AbortSignal
}

/** The IO of step `source.step` of `source.variant` (a cluster's name for commands that act on clusters). */
export function stepIO({ runner, emit, dryRun, isRoot, signal = new AbortController().signal }: StepIOOptions, source: EventSource): Step {
  return {
    source,
    signal,
    emit,
    dryRun,
    isRoot,
    run: (command: Command): Promise<CommandResult> => runner.run(command, { id: source.step, variant: source.variant }),
    info: (message) => emit({ kind: 'info', ...source, message }),
    warn: (message) => emit({ kind: 'warn', ...source, message }),
  }
}

/** The IO of one task's run for one variant. */
export function openStep(id: string, ctx: TaskContext, services: Services): Step {
  return stepIO({ ...services, dryRun: ctx.run.dryRun }, { step: id, variant: ctx.variant.name })
}
