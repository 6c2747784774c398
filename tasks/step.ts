// What a task's run gets to act as one step of one variant: commands that go
// to the step's log and events, and messages for the user.
import type { EventSource } from '../engine/run/events.ts'
import type { StepIO } from '../engine/plugin.ts'
import type { Command, CommandResult } from '../engine/runner/runner.ts'
import type { Services, TaskContext } from '../engine/run/task.ts'

export interface Step extends StepIO {
  readonly source: EventSource
  /** Aborted when the run is interrupted. */
  readonly signal: AbortSignal
  emit: Services['emit']
}

export function openStep(id: string, ctx: TaskContext, services: Services): Step {
  const source: EventSource = { step: id, variant: ctx.variant.name }
  return {
    source,
    signal: services.signal,
    emit: services.emit,
    dryRun: ctx.run.dryRun,
    isRoot: services.isRoot,
    run: (command: Command): Promise<CommandResult> => services.runner.run(command, { id, variant: ctx.variant.name }),
    info: (message) => services.emit({ kind: 'info', ...source, message }),
    warn: (message) => services.emit({ kind: 'warn', ...source, message }),
  }
}
