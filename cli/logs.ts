// `kspawn logs <variant> [step] [--follow]`: a step's log from the latest run
// of a variant, as the runner wrote it (<run folder>/<variant>/<step>.log),
// on stdout; which step of which run on stderr. Without a step, the one the
// variant is running or stopped at, else the last one that ran. --follow
// prints what the step goes on writing while its run is alive (its lock is
// held by a live process, as engine/run/run-lock.ts defines it), and ends
// when the step ends, when the run does, or at Ctrl-C.
import { open } from 'node:fs/promises'
import path from 'node:path'
import { closest } from '../engine/closest.ts'
import type { Config } from '../engine/config/config.ts'
import { UsageError } from '../engine/errors.ts'
import { listRunDirs } from '../engine/run/run-dir.ts'
import { isAlive, lockFile, readLock } from '../engine/run/run-lock.ts'
import { readRunRecord, type RunRecord, type TaskRecord, type VariantRecord } from '../engine/run/run-state.ts'
import { formatCommandLine } from '../engine/runner/command-line.ts'
import { defaultLogFile } from '../engine/runner/log-file.ts'
import { tryLoadConfigFor, type CliDeps } from './deps.ts'
import { configArgs } from './run-from-cli.ts'
import type { UsageProblems } from './usage.ts'

export interface LogsCommandOptions {
  /** Undefined when the command line names none, which is refused. */
  variant: string | undefined
  step?: string
  follow?: boolean
  /** --config */
  config?: string
  /** How often --follow looks for more; 200 ms by default. */
  pollMs?: number
}

interface RecordedRun {
  dir: string
  record: RunRecord
}

/** Resolves to the exit status: 0 the log was printed (or followed until its step or run ended, or Ctrl-C), 2 bad input. */
export async function logsCommand(options: LogsCommandOptions, deps: CliDeps, problems: UsageProblems): Promise<number> {
  const { config, error } = await tryLoadConfigFor(deps, options.config)
  const runs = config ? await recordedRuns(config) : []
  if (config) {
    const known = [...new Set([...config.variants.map((variant) => variant.name), ...runs.flatMap((run) => run.record.variants.map((variant) => variant.name))])]
    if (options.variant === undefined) problems.add(`name the variant whose log to show: one of ${known.join(', ')}`)
    else if (!known.includes(options.variant)) {
      const guess = closest(options.variant, known)
      problems.add(`unknown variant "${options.variant}": ${guess ? `did you mean "${guess}"? ` : ''}${config.file} has the variants ${known.join(', ')}`)
    }
  }
  problems.check(error)
  // Known from here: check() refused the line otherwise.
  const name = options.variant!
  const withVariant = runs.filter((run) => run.record.variants.some((variant) => variant.name === name))
  if (withVariant.length === 0) {
    throw new UsageError(`no run of variant ${name} yet: ${formatCommandLine(['kspawn', 'run', 'dev-loop', ...configArgs(options.config), '--variant', name])}`)
  }
  const variantOf = (run: RecordedRun) => run.record.variants.find((variant) => variant.name === name)!

  let run: RecordedRun
  let task: TaskRecord
  if (options.step !== undefined) {
    const step = options.step
    const found = withVariant.find((candidate) => variantOf(candidate).tasks.some((task) => task.id === step))
    if (found === undefined) {
      const steps = [...new Set(withVariant.flatMap((candidate) => variantOf(candidate).tasks.map((task) => task.id)))]
      const guess = closest(step, steps)
      problems.add(`unknown step "${step}" of variant ${name}: ${guess ? `did you mean "${guess}"? ` : ''}its runs have the steps ${steps.join(', ')}`, { help: true })
      problems.check()
    }
    run = found!
    task = variantOf(run).tasks.find((candidate) => candidate.id === step)!
  } else {
    run = withVariant[0]!
    const chosen = currentStep(variantOf(run))
    if (chosen === undefined) throw new UsageError(`no log yet; no step of variant ${name} has started in run ${run.record.id}`)
    task = chosen
  }

  if (task.status === 'not-run') throw new UsageError(`no log yet; step ${task.id} has not started in run ${run.record.id}`)
  if (task.status === 'skipped') throw new UsageError(`no log: step ${task.id} was skipped in run ${run.record.id}${task.message ? ` (${task.message})` : ''}`)
  // A step that a resumed run did not repeat: its log is in the run that did it.
  const logRun = task.doneIn ?? run.record.id
  const runDir = task.doneIn ? path.join(path.dirname(run.dir), task.doneIn) : run.dir
  const file = task.logFile ?? path.join(runDir, defaultLogFile({ id: task.id, variant: name }))
  const live = task.status === 'running' && (await runIsAlive(config!, name, run.record))
  const status = task.doneIn ? `done in run ${task.doneIn}` : task.status === 'running' ? (live ? 'running' : 'running when its run ended without settling it') : task.status
  deps.stderr.write(`${task.id} (${name}), run ${logRun}, ${status}: ${file}\n`)

  const reader = new LogReader(file, deps)
  if (!options.follow || !live) {
    await reader.readOn(true)
    return 0
  }
  const interrupts = deps.interrupts()
  try {
    const pollMs = options.pollMs ?? 200
    for (;;) {
      await reader.readOn(false)
      if (interrupts.signal.aborted) break
      // The step's end is in state.json once its commands have ended, and their output is in the file: one more read gets it all.
      const now = await readRunRecord(run.dir)
      const step = now?.variants.find((variant) => variant.name === name)?.tasks.find((candidate) => candidate.id === task.id)
      if (step?.status !== 'running' || !(await runIsAlive(config!, name, now ?? run.record))) break
      await pause(pollMs, interrupts.signal)
    }
    await reader.readOn(true)
  } finally {
    interrupts.dispose()
  }
  return 0
}

/** The step the variant runs now or stopped at (failed, interrupted), else the last one that ran in this run. */
function currentStep(variant: VariantRecord): TaskRecord | undefined {
  const running = variant.tasks.find((task) => task.status === 'running')
  if (running) return running
  const stopped = variant.tasks.find((task) => task.id === variant.stoppedAt && (task.status === 'failed' || task.status === 'interrupted'))
  if (stopped) return stopped
  return variant.tasks.findLast((task) => ['done', 'failed', 'interrupted'].includes(task.status) && task.doneIn === undefined)
}

/** The runs of this config that were not dry runs, newest first. */
async function recordedRuns(config: Config): Promise<RecordedRun[]> {
  const runs: RecordedRun[] = []
  for (const dir of await listRunDirs(config.workdir)) {
    const record = await readRunRecord(dir)
    if (record && record.config === config.file && !record.dryRun) runs.push({ dir, record })
  }
  return runs
}

/** A run goes on while its record says so and a live process holds the variant's lock for it. */
async function runIsAlive(config: Config, variant: string, record: RunRecord): Promise<boolean> {
  if (record.status !== 'running') return false
  const holder = await readLock(lockFile(config.workdir, variant))
  return holder !== undefined && holder.run === record.id && isAlive(holder)
}

/** Reads the file from where it was left: whole lines only while following, everything at the end. */
class LogReader {
  private offset = 0
  private pending = Buffer.alloc(0)

  constructor(
    private readonly file: string,
    private readonly deps: CliDeps,
  ) {}

  async readOn(last: boolean): Promise<void> {
    const handle = await open(this.file, 'r').catch(() => undefined)
    if (handle) {
      try {
        const chunk = Buffer.alloc(256 * 1024)
        for (;;) {
          const { bytesRead } = await handle.read(chunk, 0, chunk.length, this.offset)
          if (bytesRead === 0) break
          this.offset += bytesRead
          this.pending = Buffer.concat([this.pending, chunk.subarray(0, bytesRead)])
          const end = last ? this.pending.length : this.pending.lastIndexOf(10) + 1
          if (end > 0) {
            this.write(this.pending.subarray(0, end))
            this.pending = this.pending.subarray(end)
          }
        }
      } finally {
        await handle.close()
      }
    }
    if (last && this.pending.length > 0) {
      this.write(this.pending)
      this.pending = Buffer.alloc(0)
    }
  }

  // The bytes as the log has them: process.stdout takes a Buffer as it is, whatever their encoding.
  private write(bytes: Buffer): void {
    ;(this.deps.stdout.write as (chunk: string | Uint8Array) => unknown).call(this.deps.stdout, Buffer.from(bytes))
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
