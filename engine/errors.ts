// Errors that kspawn reports to people. Each kind carries the exit status the
// bin turns it into: 2 for bad usage or config, 1 for a failed step, 130 for an
// interrupt.

export abstract class KspawnError extends Error {
  abstract readonly exitCode: number

  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The command line asks for something that cannot be done as asked. */
export class UsageError extends KspawnError {
  readonly exitCode = 2
}

/** One problem in a config file, located as precisely as it is known. */
export interface ConfigProblem {
  /** Field path inside the config, e.g. `variants.denyattach.tag`; empty for the file as a whole. */
  path: string
  /** What was expected and what was found, e.g. `expected a Docker image tag (...), found "v1.8:bad"`. */
  message: string
  line?: number
  column?: number
}

/** The config file cannot be loaded or does not describe a valid loop; lists every problem found. */
export class ConfigError extends KspawnError {
  readonly exitCode = 2

  constructor(
    /** The config file as shown to the user (relative to the working folder when that reads better). */
    readonly file: string,
    readonly problems: readonly ConfigProblem[],
    options?: ErrorOptions,
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'), options)
  }
}

/** A step of the loop ran and failed. */
export class StepError extends KspawnError {
  readonly exitCode = 1
}

/** The run was stopped by a signal (Ctrl-C). */
export class Interrupted extends KspawnError {
  readonly exitCode = 130
}

function formatProblem(file: string, { path, message, line, column }: ConfigProblem): string {
  const where = line === undefined ? file : column === undefined ? `${file}:${line}` : `${file}:${line}:${column}`
  return path === '' ? `${where}: ${message}` : `${where}: ${path}: ${message}`
}

/** Lines of output a failed command's message shows; the log file has the rest. */
export const ERROR_TAIL_LINES = 20

/** What is known about a failed command, everything already redacted. */
export interface CommandFailure {
  step: string
  variant?: string
  /** Shell-quoted for display. */
  commandLine: string
  /** What happened, e.g. `exited with code 2`, `timed out after 30.0s and was stopped`. */
  outcome: string
  /** The command's own exit code; null when it was killed by a signal or could not start. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** It ran past its timeoutMs and was stopped: for a command that streams until stopped, such as `kubectl attach`. */
  timedOut?: boolean
  /** Last lines of its output. */
  tail: string[]
  logFile?: string
}

/** An external command of a step failed. */
export class CommandError extends StepError {
  constructor(
    readonly failure: CommandFailure,
    options?: ErrorOptions,
  ) {
    super(describeFailure(failure), options)
  }
}

/**
 * Whether error is a CommandError, also one made by another copy of this
 * module: plugins loaded through a config file run from sources get copies of
 * their own, for which instanceof does not hold.
 */
export function isCommandError(error: unknown): error is CommandError {
  if (error instanceof CommandError) return true
  return error instanceof Error && error.name === 'CommandError' && typeof (error as { failure?: unknown }).failure === 'object'
}

/** Whether error is one of kspawn's own errors, also one made by another copy of this module (see isCommandError). */
export function isKspawnError(error: unknown): error is KspawnError {
  if (error instanceof KspawnError) return true
  const names = ['UsageError', 'ConfigError', 'StepError', 'CommandError', 'Interrupted']
  return error instanceof Error && names.includes(error.name) && typeof (error as { exitCode?: unknown }).exitCode === 'number'
}

function describeFailure(failure: CommandFailure): string {
  const step = failure.variant ? `${failure.step} (${failure.variant})` : failure.step
  const lines = [`${step} failed: ${failure.commandLine} ${failure.outcome}`]
  const shown = failure.tail.slice(-ERROR_TAIL_LINES)
  if (shown.length === 0) lines.push('  (no output)')
  else lines.push('  last lines:', ...shown.map((line) => `    ${line}`))
  if (failure.logFile) lines.push(`  full log: ${failure.logFile}`)
  return lines.join('\n')
}
