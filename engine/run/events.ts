// The event stream of a run. The terminal UI, the --json stream and the run
// log are three readers of these events; each kind has one shape.

/** Which step, of which variant, an event belongs to (no variant: the run as a whole). */
export interface EventSource {
  step: string
  variant?: string
}

export interface StepStartEvent extends EventSource {
  kind: 'step-start'
  title: string
}

export interface StepSkipEvent extends EventSource {
  kind: 'step-skip'
  /** why there is nothing to do, e.g. "image already exists" */
  reason: string
  /** The earlier run that did this step, when a resumed run skips it. */
  doneIn?: string
}

export interface StepDoneEvent extends EventSource {
  kind: 'step-done'
  durationMs: number
}

export interface StepFailedEvent extends EventSource {
  kind: 'step-failed'
  message: string
  logFile?: string
  /** For an error that kspawn did not expect: where it was thrown. */
  stack?: string
}

/** The step was stopped by a signal (Ctrl-C) before it finished. */
export interface StepInterruptedEvent extends EventSource {
  kind: 'step-interrupted'
  message: string
}

/** A command about to run or, with dryRun, printed instead of run (no output or end follows). */
export interface CmdEvent extends EventSource {
  kind: 'cmd'
  /** shell-quoted for display, secrets replaced by *** */
  commandLine: string
  cwd: string
  dryRun: boolean
}

/**
 * One line of a running command's output, secrets replaced by ***. Sampled:
 * under heavy output only the latest lines of each interval are sent, while
 * the log file gets every line.
 */
export interface OutputEvent extends EventSource {
  kind: 'output'
  /**
   * Absent for a command that writes both streams straight into its log file
   * (the usual case), which keeps their order but not which line came from which.
   */
  stream?: 'stdout' | 'stderr'
  line: string
}

export interface EndEvent extends EventSource {
  kind: 'end'
  commandLine: string
  /** null when the command was killed by a signal or could not start */
  exitCode: number | null
  signal: NodeJS.Signals | null
  durationMs: number
  logFile?: string
}

export interface WarnEvent extends Partial<EventSource> {
  kind: 'warn'
  message: string
}

export interface InfoEvent extends Partial<EventSource> {
  kind: 'info'
  message: string
}

/** The first event of a run. */
export interface RunStartEvent {
  kind: 'run-start'
  run: string
  workflow: string
  variants: string[]
  dryRun: boolean
  /** The run's folder; absent in dry-run, which writes nothing. */
  dir?: string
}

export type VariantStatus = 'passed' | 'failed' | 'interrupted'

/** The last event of a run: how each variant ended and the exit status kspawn returns. */
export interface RunEndEvent {
  kind: 'run-end'
  run: string
  exitCode: number
  /** The signal that stopped the run, when one did. */
  interruptedBy?: string
  variants: { name: string; status: VariantStatus; stoppedAt?: string }[]
}

export type KspawnEvent =
  | RunStartEvent
  | RunEndEvent
  | StepStartEvent
  | StepSkipEvent
  | StepDoneEvent
  | StepFailedEvent
  | StepInterruptedEvent
  | CmdEvent
  | OutputEvent
  | EndEvent
  | WarnEvent
  | InfoEvent

export type EventKind = KspawnEvent['kind']

export type Emit = (event: KspawnEvent) => void

export type EventListener = (event: KspawnEvent) => void

/** One stream of events and its readers, each called in the order it subscribed. */
export interface EventHub {
  emit: Emit
  /** Returns a function that unsubscribes. */
  on(listener: EventListener): () => void
}

export function createEventHub(): EventHub {
  const listeners: EventListener[] = []
  return {
    emit(event) {
      for (const listener of [...listeners]) listener(event)
    },
    on(listener) {
      listeners.push(listener)
      return () => {
        const index = listeners.indexOf(listener)
        if (index >= 0) listeners.splice(index, 1)
      }
    },
  }
}

/** "build (denyattach)", or "build" for a step of the whole run. */
export function stepLabel(source: Partial<EventSource>): string {
  const step = source.step ?? 'kspawn'
  return source.variant ? `${step} (${source.variant})` : step
}

/** "850ms", "12.3s", "4m 05s": short enough for a status line. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const seconds = Math.round(ms / 1000)
  return `${Math.floor(seconds / 60)}m ${String(seconds % 60).padStart(2, '0')}s`
}
