import { stat } from 'node:fs/promises'
import path from 'node:path'
import { Writable, type Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { StringDecoder } from 'node:string_decoder'
import { $, type ProcessOutput, type ProcessPromise } from 'zx'
import { formatCommandLine } from './command-line.ts'
import { CommandError, Interrupted } from '../errors.ts'
import { formatDuration, stepLabel, type Emit, type EventSource } from '../run/events.ts'
import { LineSplitter } from './lines.ts'
import { defaultLogFile, LogFile } from './log-file.ts'
import { LogFollower } from './log-follower.ts'
import { OutputThrottle, type Stream } from './output-throttle.ts'
import { signalGroup, terminateGroup } from './process-tree.ts'
import { SECRET_ENV_NAME, createRedactor, secretsFromEnv, type Redactor } from './redact.ts'
import { Tail, clipLine } from './tail.ts'

// The one place where kspawn runs external commands. Every command is an argv
// array, runs in its own process group, has all its output in the step's log
// file, its latest lines sent as events, and only a bounded tail in memory.
//
// A command's output can hold a secret only if the command can see one, so:
// commands do not inherit secret-looking variables from kspawn's environment
// (names with TOKEN, PASSWORD or SECRET, values holding a configured secret)
// and get them only through Command.env. A command given a secret (in env,
// argv or stdin, or flagged mayPrintSecrets) has its output piped through
// kspawn and redacted, as has one whose stdout is captured. Every other one
// writes both streams straight into the log file, in their true order, and
// kspawn reads back only the file's newest bytes for events and the tail: a
// build printing gigabytes then costs kspawn neither memory nor CPU. A command
// whose stdout is a secret that no redaction knows beforehand (`gh auth token`)
// has only its stderr shown or written anywhere.

export interface Command {
  argv: string[]
  cwd?: string
  /**
   * Added to kspawn's environment; undefined removes a variable. Variables
   * that look secret are not inherited: pass them here, and the output is redacted.
   */
  env?: Record<string, string | undefined>
  /** Prefixed with `sudo -E` unless kspawn already runs as root. */
  needsRoot?: boolean
  /** Only reads, so it runs in dry-run too. */
  reads?: boolean
  /** Keep stdout in memory for the result: only for small outputs such as `git rev-parse`. */
  capture?: boolean
  /**
   * The command may print a configured secret that it reads by itself (from a
   * file, a credential helper), so its output must be redacted.
   */
  mayPrintSecrets?: boolean
  /**
   * What it prints on stdout is, or may hold, a secret that kspawn cannot know
   * beforehand (`gh auth token`, remote URLs with a password): only `capture`
   * gets it; the log file, events, tail and errors have its stderr alone.
   */
  secretStdout?: boolean
  stdin?: string
  timeoutMs?: number
  /** Exit codes that count as success; [0] unless given. */
  okExitCodes?: number[]
  /**
   * It removes what an interrupted step made (a half-made cluster, a test's
   * pod), so it runs after abort() too; kill() still kills it.
   */
  cleanup?: boolean
  /**
   * For a cleanup command: what stays when it is killed before it ends, with
   * how to remove it by hand, e.g. `pod x in cluster c; remove it with: env
   * KUBECONFIG=... kubectl delete pod x`. The run's summary says it.
   */
  leftIfCut?: string
}

export interface StepRef {
  /** e.g. 'build' */
  id: string
  variant?: string
  /** Defaults to <runDir>/<variant>/<id>.log; a relative path is under runDir. */
  logFile?: string
}

export interface CommandResult {
  /** As run, with any `sudo -E` prefix, secrets replaced by ***. */
  argv: string[]
  /** Shell-quoted for display, secrets replaced by ***. */
  commandLine: string
  /** 0 for a command that dry-run skipped; null when killed by a signal. */
  exitCode: number | null
  signal: NodeJS.Signals | null
  durationMs: number
  /** Exactly what the command printed (not redacted: code reads it), when `capture` was set. */
  stdout?: string
  /** Last lines of stdout and stderr together, secrets replaced by ***. */
  tail: string[]
  /** Absent in dry-run, which writes no files. */
  logFile?: string
  /** True when dry-run printed the command instead of running it. */
  dryRun: boolean
}

export interface RunnerOptions {
  /** The run's folder; log files go under it. */
  runDir: string
  dryRun: boolean
  emit: Emit
  /** Whether kspawn runs as root; by default, whether the uid is 0. */
  isRoot?: boolean
  /**
   * Values replaced by *** wherever commands or their output are shown or
   * written; a variable of kspawn's environment holding one is not passed on.
   */
  secrets?: string[]
  /** Bounds of the output kept in memory per command: 40 lines, 64 KiB. */
  tailLines?: number
  tailBytes?: number
  /** Time between SIGTERM and SIGKILL when stopping a command: 5 s. */
  killGraceMs?: number
  /** Output events per command: at most `outputLines` lines every `outputIntervalMs`, 20 per 100 ms. */
  outputIntervalMs?: number
  outputLines?: number
  /** Told of each command's process group while it runs (the run's lock lists them, for a run that dies). */
  processes?: {
    started(source: EventSource, pgid: number, commandLine: string): void
    ended(source: EventSource, pgid: number): void
  }
}

export interface Runner {
  /**
   * Runs a command for a step; rejects with CommandError when it fails,
   * Interrupted after abort(). Its output is redacted when it may hold a
   * secret, and otherwise goes straight to the log file (see above).
   */
  run(command: Command, step: StepRef): Promise<CommandResult>
  /**
   * Stops every running command with its whole process group (SIGTERM, then
   * SIGKILL after the grace period) and makes their run() reject with
   * Interrupted; later run() calls reject at once. Resolves when all are gone.
   * Cleanup commands (Command.cleanup) are neither stopped nor refused.
   */
  abort(reason?: string): Promise<void>
  /**
   * Kills every running command's process group at once (SIGKILL) without
   * waiting for anything, for a run that ends now; later run() calls reject
   * at once. Returns the commands it killed.
   */
  kill(reason?: string): KilledCommand[]
}

/** A command that kill() killed. */
export interface KilledCommand {
  source: EventSource
  commandLine: string
  /** It was removing what an interrupted step made (Command.cleanup). */
  cleanup: boolean
  /** Command.leftIfCut. */
  leftIfCut?: string
  /** It had not started yet (a cleanup command is owed from the moment it is asked for). */
  notStarted?: true
}

/** A command the runner has under way: what abort() and kill() act on. */
interface Entry {
  cleanup: boolean
  stop(): Promise<void>
  kill(): KilledCommand | undefined
}

/** A command ready to run: what is run, and what may be shown of it. */
interface Prepared {
  argv: string[]
  shownArgv: string[]
  commandLine: string
  cwd: string
  env: NodeJS.ProcessEnv
  source: EventSource
  redactor: Redactor
  /** Output through kspawn: to be redacted or captured, so not straight into the log file. */
  piped: boolean
  /** The streams whose text may be shown and written: stderr alone when stdout is a secret. */
  shown: Stream[]
}

export function createRunner(options: RunnerOptions): Runner {
  const isRoot = options.isRoot ?? process.getuid?.() === 0
  const tailLimits = { maxLines: options.tailLines ?? 40, maxBytes: options.tailBytes ?? 64 * 1024 }
  const outputLines = options.outputLines ?? 20
  const outputIntervalMs = options.outputIntervalMs ?? 100
  // How much of a log file is read back for the tail: at least what the tail may keep.
  const tailWindow = Math.max(tailLimits.maxBytes, 64 * 1024)
  const killGraceMs = options.killGraceMs ?? 5000
  const configured = createRedactor(options.secrets ?? [])
  const running = new Set<Entry>()
  let interruption: { reason: string | undefined } | undefined

  const interruptedBy = () => (interruption?.reason ? ` by ${interruption.reason}` : '')

  function interrupted({ source, commandLine }: Prepared, started: boolean, logFile?: string): Interrupted {
    const message = started
      ? `${stepLabel(source)} was interrupted${interruptedBy()} while running: ${commandLine}`
      : `${stepLabel(source)} was not started, the run was interrupted${interruptedBy()}: ${commandLine}`
    return new Interrupted(logFile ? `${message}\n  full log: ${logFile}` : message)
  }

  function prepare(command: Command, step: StepRef): Prepared {
    const source: EventSource = step.variant ? { step: step.id, variant: step.variant } : { step: step.id }
    if (command.argv.length === 0) throw new TypeError(`A command of step ${stepLabel(source)} has an empty argv`)
    const argv = command.needsRoot && !isRoot ? ['sudo', '-E', ...command.argv] : command.argv
    const redactor = createRedactor([...(options.secrets ?? []), ...secretsFromEnv(command.env)])
    const shownArgv = argv.map((arg) => redactor.redact(arg))
    const cwd = path.resolve(command.cwd ?? process.cwd())
    const given = [...argv, command.stdin ?? '', ...Object.values(command.env ?? {})]
    const seesSecret = command.mayPrintSecrets === true || given.some((text) => text && redactor.redact(text) !== text)
    const env = commandEnv(command, configured)
    const piped = seesSecret || command.capture === true || command.secretStdout === true
    const shown: Stream[] = command.secretStdout ? ['stderr'] : ['stdout', 'stderr']
    return { argv, shownArgv, commandLine: formatCommandLine(shownArgv), cwd, env, source, redactor, piped, shown }
  }

  async function run(command: Command, step: StepRef): Promise<CommandResult> {
    const prepared = prepare(command, step)
    const { commandLine, source } = prepared
    if (command.cleanup !== true) return runPrepared(command, prepared, step)
    // A removal is owed from the moment it is asked for: a kill() before it has started still reports what it leaves.
    const owed: Entry = {
      cleanup: true,
      stop: async () => {},
      kill: () => ({ source, commandLine, cleanup: true, notStarted: true, ...(command.leftIfCut ? { leftIfCut: command.leftIfCut } : {}) }),
    }
    running.add(owed)
    try {
      return await runPrepared(command, prepared, step, owed)
    } finally {
      running.delete(owed)
    }
  }

  async function runPrepared(command: Command, prepared: Prepared, step: StepRef, owed?: Entry): Promise<CommandResult> {
    const { shownArgv, commandLine, cwd, source } = prepared
    const stoppable = command.cleanup !== true
    if (interruption && stoppable) throw interrupted(prepared, false)

    if (options.dryRun && !command.reads) {
      options.emit({ kind: 'cmd', ...source, commandLine, cwd, dryRun: true })
      const stdout = command.capture ? { stdout: '' } : {}
      return { argv: shownArgv, commandLine, exitCode: 0, signal: null, durationMs: 0, ...stdout, tail: [], dryRun: true }
    }

    // Checked here because spawn would blame the shell ("spawn /bin/bash ENOENT").
    if (!(await isDirectory(cwd))) {
      const outcome = `could not start: its working folder ${cwd} does not exist`
      throw new CommandError({ ...source, commandLine, outcome, exitCode: null, signal: null, tail: [] })
    }
    const logFile = options.dryRun ? undefined : path.resolve(options.runDir, step.logFile ?? defaultLogFile(step))
    const log = logFile ? await LogFile.open(logFile, stepLabel(source)) : undefined
    if (interruption && stoppable) {
      await log?.close('')
      throw interrupted(prepared, false)
    }
    log?.write(`$ ${commandLine}\n# cwd: ${cwd}\n${command.secretStdout ? '# stdout: not kept, it is a secret\n' : ''}`)
    options.emit({ kind: 'cmd', ...source, commandLine, cwd, dryRun: false })

    const { output, stoppedBy, durationMs, tail } = await execute(command, prepared, log, owed)

    const { exitCode, signal } = output
    const outcome =
      stoppedBy === 'abort'
        ? `was interrupted${interruptedBy()}`
        : stoppedBy === 'timeout'
          ? `timed out after ${formatDuration(command.timeoutMs ?? 0)} and was stopped`
          : output.cause
            ? `could not start: ${prepared.redactor.redact(output.cause.message)}`
            : signal
              ? `was killed by ${signal}`
              : `exited with code ${exitCode}`
    await log?.close(`# ${outcome} (${formatDuration(durationMs)})\n`)
    if (log?.error) {
      options.emit({ kind: 'warn', ...source, message: `could not write the log file ${logFile}: ${log.error.message}` })
    }
    const logged = logFile ? { logFile } : {}
    options.emit({ kind: 'end', ...source, commandLine, exitCode, signal, durationMs, ...logged })

    if (stoppedBy === 'abort') throw interrupted(prepared, true, logFile)
    const ok = !stoppedBy && !output.cause && exitCode !== null && (command.okExitCodes ?? [0]).includes(exitCode)
    if (!ok) {
      const timedOut = stoppedBy === 'timeout' ? { timedOut: true } : {}
      throw new CommandError({ ...source, commandLine, outcome, exitCode, signal, ...timedOut, tail: tail.lines(), ...logged })
    }
    const stdout = command.capture ? { stdout: output.stdout } : {}
    return { argv: shownArgv, commandLine, exitCode, signal, durationMs, ...stdout, tail: tail.lines(), ...logged, dryRun: false }
  }

  /** Runs the command to its end, or until abort() or its timeout stops it. */
  async function execute(command: Command, prepared: Prepared, log: LogFile | undefined, owed?: Entry) {
    const { source, redactor } = prepared
    const tail = new Tail(tailLimits)
    const throttle = new OutputThrottle(
      (stream, line) => options.emit({ kind: 'output', ...source, ...(stream && { stream }), line: clipLine(line) }),
      outputIntervalMs,
      outputLines,
    )
    const target = log && !prepared.piped ? await log.handOver() : undefined
    const started = performance.now()
    const child = spawn(command, prepared, target?.fd ?? 'pipe')
    const output =
      log && target
        ? follow(log, target.start, tail, (lines) => throttle.push(undefined, lines))
        : pipe(child, prepared.shown, { redactor, keep: Math.max(tailLimits.maxLines, outputLines), log, tail, throttle })

    let stoppedBy: 'abort' | 'timeout' | undefined
    let stopping: Promise<void> | undefined
    const stop = (by: 'abort' | 'timeout') => {
      stoppedBy ??= by
      return (stopping ??= stopGroup(child, killGraceMs))
    }
    const entry = {
      cleanup: command.cleanup === true,
      stop: () => stop('abort'),
      kill: () => {
        if (child.pid === undefined || !signalGroup(child.pid, 'SIGKILL')) return undefined
        return { source, commandLine: prepared.commandLine, cleanup: command.cleanup === true, ...(command.leftIfCut ? { leftIfCut: command.leftIfCut } : {}) }
      },
    }
    running.add(entry)
    // Started: from here the command itself is what kill() reports.
    if (owed) running.delete(owed)
    const pgid = child.pid
    if (pgid !== undefined) options.processes?.started(prepared.source, pgid, prepared.commandLine)
    // abort() may have come while the log file was being handed over.
    if (interruption && command.cleanup !== true) void stop('abort')
    const timer = command.timeoutMs === undefined ? undefined : setTimeout(() => void stop('timeout'), command.timeoutMs)
    let result: ProcessOutput
    try {
      result = await child
      await stopping
      await output.end()
    } finally {
      clearTimeout(timer)
      running.delete(entry)
      if (pgid !== undefined) options.processes?.ended(prepared.source, pgid)
    }
    throttle.flush()
    return { output: result, stoppedBy, durationMs: Math.round(performance.now() - started), tail }
  }

  /** Events and the tail of a command writing into the log file, read back from it. */
  function follow(log: LogFile, start: number, tail: Tail, lines: (lines: string[]) => void) {
    const follower = new LogFollower(log, { start, tailWindow, intervalMs: outputIntervalMs, keep: outputLines, lines })
    return {
      async end() {
        for (const line of await follower.end()) tail.push(line)
      },
    }
  }

  async function abort(reason?: string): Promise<void> {
    interruption ??= { reason }
    await Promise.all([...running].filter((entry) => !entry.cleanup).map((entry) => entry.stop()))
  }

  function kill(reason?: string): KilledCommand[] {
    interruption ??= { reason }
    return [...running].flatMap((entry) => entry.kill() ?? [])
  }

  return { run, abort, kill }
}

async function isDirectory(dir: string): Promise<boolean> {
  return stat(dir).then(
    (info) => info.isDirectory(),
    () => false,
  )
}

/** <variant>/<step>.log, with names reduced to characters that are safe in a path. */

/** zx keeps all output in a store; these arrays drop it so memory stays flat. */
function discard(): Buffer[] {
  return Object.assign([], { push: () => 0 })
}

/** kspawn's environment without what looks secret, with the command's own variables. */
function commandEnv(command: Command, configured: Redactor): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !SECRET_ENV_NAME.test(name) && configured.redact(value) === value) env[name] = value
  }
  for (const [name, value] of Object.entries(command.env ?? {})) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

/** `output` is 'pipe', or the descriptor of the log file for both stdout and stderr. */
function spawn(command: Command, { argv, cwd, env }: Prepared, output: 'pipe' | number): ProcessPromise {
  // zx quotes each element of an interpolated array, so argv reaches the
  // program unchanged; detached makes the child the leader of a new process group.
  // zx's own timeout, signal and kill() are not used: they send one signal,
  // while a command is stopped here with its whole group, SIGTERM and then
  // SIGKILL after a grace period (stopGroup), and reported as interrupted or timed out.
  return $({
    cwd,
    env,
    quiet: true,
    verbose: false,
    nothrow: true,
    detached: true,
    // Without stdin a command reads end-of-file at once instead of waiting forever.
    stdio: [command.stdin === undefined ? 'ignore' : 'pipe', output, output],
    ...(command.stdin === undefined ? {} : { input: command.stdin }),
    store: { stdout: command.capture ? [] : discard(), stderr: discard(), stdall: discard() },
  })`${argv}`
}

async function stopGroup(child: ProcessPromise, graceMs: number): Promise<void> {
  if (child.pid === undefined) return
  await terminateGroup(child.pid, graceMs)
  // A process that left the group (a daemon) may still hold the output pipes;
  // stop waiting for them once the group itself is gone.
  const release = setTimeout(() => {
    child.stdout?.destroy()
    child.stderr?.destroy()
  }, 1000)
  await child
  clearTimeout(release)
}

interface PipeOptions {
  redactor: Redactor
  keep: number
  log: LogFile | undefined
  tail: Tail
  throttle: OutputThrottle
}

/**
 * Events, the tail and the log of a command whose output comes through kspawn,
 * redacted; a stream not shown is still read, by zx, for `capture`.
 */
function pipe(child: ProcessPromise, shown: Stream[], options: PipeOptions) {
  const sinks = shown.map((stream) => consume(child[stream], stream, options))
  return {
    async end() {
      // A stream cut short by a kill never ends on its own.
      for (const sink of sinks) if (!sink.writableEnded) sink.end()
      await Promise.all(sinks.map((sink) => finished(sink).catch(() => {})))
    },
  }
}

/** The sink of one output stream: redacted text to the log file, last lines to the tail and events. */
function consume(stream: Readable | null | undefined, name: Stream, options: PipeOptions): Writable {
  const { redactor, keep, log, tail, throttle } = options
  const decoder = new StringDecoder('utf8')
  const splitter = new LineSplitter(
    redactor,
    {
      text: (text) => log?.write(text),
      lines: (lines) => {
        for (const line of lines) tail.push(line)
        throttle.push(name, lines)
      },
    },
    keep,
  )
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      splitter.push(decoder.write(chunk))
      log ? log.ready(done) : done()
    },
    final(done) {
      splitter.push(decoder.end())
      splitter.end()
      log ? log.ready(done) : done()
    },
  })
  if (stream) stream.pipe(sink)
  else sink.end()
  return sink
}
