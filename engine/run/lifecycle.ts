// The life of one step of one variant, as plain code: not started once the
// run is interrupted; skipped when an earlier run finished it (--resume) or
// when the task says why; else run; and, after a failure or an interrupt,
// rolled back. Each
// turn is an event, which state.json, events.jsonl and the terminal read.
// The listr2 module (pipeline.ts) only shows it.
import { Interrupted, isCommandError, isKspawnError, StepError } from '../errors.ts'
import { formatCommandLine } from '../runner/command-line.ts'
import type { Runner } from '../runner/runner.ts'
import { stepLabel, type Emit, type EventSource } from './events.ts'
import type { VariantRun } from './pipeline.ts'
import type { Services, Task } from './task.ts'

export interface StepContext {
  task: Task
  run: VariantRun
  services: Services
  emit: Emit
}

export function stepSource({ task, run }: Pick<StepContext, 'task' | 'run'>): EventSource {
  return { step: task.id, variant: run.ctx.variant.name }
}

/**
 * Runs the step. Resolves to why it was skipped, or undefined when it ran;
 * rejects with what it threw, once its step-failed or step-interrupted event
 * says so. `onStart` is called when the step starts (after step-start).
 */
export async function runStep({ task, run, services, emit }: StepContext, onStart: () => void = () => {}): Promise<string | undefined> {
  const { ctx } = run
  const source = stepSource({ task, run })
  if (services.signal.aborted) throw new Interrupted(`${stepLabel(source)} was not started: the run was interrupted`)
  emit({ kind: 'step-start', ...source, title: task.title(ctx) })
  onStart()
  const started = performance.now()
  try {
    const doneIn = run.done?.get(task.id)
    if (doneIn !== undefined) {
      const gone = await task.stillDone?.(ctx, services)
      if (gone === undefined) {
        const reason = `done in run ${doneIn}`
        emit({ kind: 'step-skip', ...source, reason, doneIn })
        return reason
      }
      // What it made is gone: it runs again, and so does every task after it, which used what it made.
      emit({ kind: 'info', ...source, message: `done in run ${doneIn}, but ${gone}: doing it again, and the steps after it` })
      run.done?.clear()
      // What the smoke test saw was seen on what is now being made again.
      delete ctx.state.smoke
    }
    const reason = await task.skip?.(ctx, services)
    if (reason) {
      emit({ kind: 'step-skip', ...source, reason })
      return reason
    }
    await task.run(ctx, services)
    emit({ kind: 'step-done', ...source, durationMs: Math.round(performance.now() - started) })
    return undefined
  } catch (error) {
    const message = describeError(error)
    if (error instanceof Interrupted || services.signal.aborted) {
      emit({ kind: 'step-interrupted', ...source, message })
    } else {
      const logFile = isCommandError(error) ? error.failure.logFile : undefined
      // A failure kspawn did not describe is a bug somewhere: its stack goes to the run's events for whoever fixes it.
      const stack = !isKspawnError(error) && error instanceof Error ? error.stack : undefined
      emit({ kind: 'step-failed', ...source, message, ...(logFile ? { logFile } : {}), ...(stack ? { stack } : {}) })
    }
    throw error
  }
}

/** How long removing what an interrupted step made may take in all, before kspawn gives up and says what is left. */
export const CLEANUP_SECONDS = 120

/**
 * Undoes what a step that failed or was interrupted made (a half-created
 * cluster), when its task can. After an interruption its commands run as
 * cleanup (Command.cleanup), within CLEANUP_SECONDS in all; a second
 * interrupt kills them, and the summary then names what is left. A failing
 * rollback is a warning that says what to undo. Resolves to whether a
 * rollback ran.
 */
export async function rollBackStep({ task, run, services, emit }: StepContext, failure: unknown): Promise<boolean> {
  if (!task.rollback || task.leftBehind?.(run.ctx) === false) return false
  const interrupted = failure instanceof Interrupted || services.signal.aborted
  const source = stepSource({ task, run })
  emit({
    kind: 'info',
    ...source,
    message: interrupted ? `removing what the step made before stopping (at most ${CLEANUP_SECONDS}s; interrupt again to leave it as it is)` : 'rolling back after the failure',
  })
  try {
    await task.rollback(run.ctx, interrupted ? cleanupServices(services) : services)
  } catch (error) {
    emit({ kind: 'warn', ...source, message: `rollback failed, undo by hand what the step left: ${describeError(error)}` })
  }
  return true
}

/** Services whose commands run although the run is interrupted, each bounded by what is left of CLEANUP_SECONDS. */
function cleanupServices(services: Services): Services {
  const deadline = Date.now() + CLEANUP_SECONDS * 1000
  const runner: Runner = {
    run: (command, step) => {
      const left = deadline - Date.now()
      if (left <= 0) return Promise.reject(new StepError(`gave up removing it after ${CLEANUP_SECONDS}s, before: ${formatCommandLine(command.argv)}`))
      return services.runner.run({ ...command, cleanup: true, timeoutMs: Math.min(command.timeoutMs ?? left, left) }, step)
    },
    abort: (reason) => services.runner.abort(reason),
    kill: (reason) => services.runner.kill(reason),
  }
  return { ...services, runner, signal: new AbortController().signal }
}

/** What a failure says to people: kspawn's errors are written for them; others keep their name when it tells something (GitError). */
export function describeError(error: unknown): string {
  if (isKspawnError(error)) return error.message
  if (error instanceof Error) return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`
  return String(error)
}
