// One run of a workflow: its folder, its event stream and the readers of it
// (events.jsonl, state.json, the terminal), the runner, the pipeline, and the
// summary at the end. An abort (Ctrl-C) stops the running commands with their
// process groups and the run ends with the record of where it stopped; a
// forced end (a second Ctrl-C) kills them and records and prints that at once.
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { formatCommandLine } from '../runner/command-line.ts'
import type { Config, Variant } from '../config/config.ts'
import { UsageError } from '../errors.ts'
import { openEventLog, printEvents } from './event-log.ts'
import { createEventHub, stepLabel, type EventHub, type EventSource } from './events.ts'
import { lockVariants, type VariantLocks } from './run-lock.ts'
import { buildPipeline, PROGRESS_INTERVAL_MS, type VariantRun } from './pipeline.ts'
import { createRunDir, EVENTS_FILE, listRunDirs, plannedRunDir, STATE_FILE } from './run-dir.ts'
import { findLatestRecord, readRunRecord, RunRecorder, type RunRecord } from './run-state.ts'
import { createRunner } from '../runner/runner.ts'
import { JUNIT_FILE, writeJunit } from './junit.ts'
import { formatSummary, type SummaryOptions } from './summary.ts'
import { checkClustersUp, tearDown, type TeardownOptions, type TeardownResult } from './teardown.ts'
import { kspawnDownCommand, tasksFor, type RunInfo, type Services, type Task, type Workflow } from './task.ts'
import { chooseRenderer, parseProgressInterval, useColor, type Env, type Output, type RendererName } from '../terminal.ts'
import { initialVariantState, variantChanges } from './variant-state.ts'

export interface RunWorkflowOptions {
  config: Config
  workflow: Workflow
  /** The variants to run; all of the config's when absent or empty. */
  variantNames?: string[]
  /** Print the commands that change anything instead of running them; nothing is written. */
  dryRun?: boolean
  /** Chosen from stdout and the environment when absent (see chooseRenderer). */
  renderer?: RendererName
  /** Variants running at once; all of them when absent. */
  concurrency?: number
  /**
   * Plain output: seconds between the lines that say a step is still running
   * (0: none); KSPAWN_PROGRESS_INTERVAL in `env` when absent, else 30.
   */
  progressInterval?: number
  /** Replace a cluster of the same name instead of refusing. */
  recreate?: boolean
  /** False (--no-cache): take nothing from the build cache and put nothing in it; true by default, unless KSPAWN_NO_CACHE is set in `env`. */
  cache?: boolean
  /** Skip the tasks that the latest run of this workflow finished for a variant, and start from the state it recorded. */
  resume?: boolean
  /** Start each variant from the state its latest run recorded (for one task run alone), skipping nothing. */
  inheritState?: boolean
  /** Remove the clusters the run brought up once it ends, also when a step failed. */
  teardown?: boolean
  /** --junit: where to write junit.xml too, besides the run's folder (not in dry-run). */
  junitFile?: string
  /** Shown when the run fails or is interrupted, e.g. `kspawn run dev-loop --resume`. */
  resumeCommand?: string
  /** The `--config <file>` of the command line, if any: the kspawn commands the run prints name it too, so that they work when pasted where this one ran. */
  configArgs?: string[]
  stdout?: Output
  stderr?: Output
  env?: Env
  /** Aborting it interrupts the run; its reason (e.g. 'SIGINT') is recorded and shown. */
  signal?: AbortSignal
  /**
   * Aborting it ends the run at once, for a caller that exits right after:
   * the running commands are killed, and where each variant stopped is
   * written to state.json and events.jsonl and printed before abort() returns.
   */
  force?: AbortSignal
  /** Whether kspawn runs as root; by default, whether the uid is 0. */
  isRoot?: boolean
  now?: () => Date
  /** The command line of the run, as a lock shows it to a second run; by default, kspawn's own. */
  command?: string
  /** What the caller checks before the run's first command (tools, daemons), for the selected variants and the ids of their tasks: one sentence per problem. */
  preflight?: (variants: Variant[], taskIds: string[]) => Promise<string[]>
}

export interface RunOutcome {
  /** 0 every variant passed, 1 a step failed, 130 interrupted. */
  exitCode: number
  record: RunRecord
  /** The run's folder; absent in dry-run. */
  dir?: string
}

/** KSPAWN_NO_CACHE=1 (or true, yes): --no-cache for every run, e.g. in CI jobs that must build. */
export function cacheOffIn(env: Readonly<Record<string, string | undefined>>): boolean {
  return ['1', 'true', 'yes'].includes((env.KSPAWN_NO_CACHE ?? '').trim().toLowerCase())
}

/** --progress-interval, else KSPAWN_PROGRESS_INTERVAL (seconds, 0 for none), else 30 s: in milliseconds. */
export function progressIntervalOf(seconds: number | undefined, env: Readonly<Record<string, string | undefined>>): number {
  if (seconds !== undefined) return seconds * 1000
  const fromEnv = (env.KSPAWN_PROGRESS_INTERVAL ?? '').trim()
  if (fromEnv === '') return PROGRESS_INTERVAL_MS
  const parsed = parseProgressInterval(fromEnv)
  if (parsed === undefined) throw new UsageError(`KSPAWN_PROGRESS_INTERVAL must be a number of seconds, 0 or more (0: no progress lines); found "${fromEnv}"`)
  return parsed * 1000
}

export async function runWorkflow(options: RunWorkflowOptions): Promise<RunOutcome> {
  const { config, workflow, dryRun = false, recreate = false } = options
  const stdout = options.stdout ?? process.stdout
  const stderr = options.stderr ?? process.stderr
  const env = options.env ?? process.env
  const now = options.now ?? (() => new Date())
  const isRoot = options.isRoot ?? process.getuid?.() === 0
  // --resume alone continues the latest run: its variants, not every variant of the config.
  const variants = options.resume && (options.variantNames ?? []).length === 0 ? await resumedVariants(config, workflow) : selectVariants(config, options.variantNames)
  const renderer = chooseRenderer(options.renderer, stdout, env)
  const progressInterval = progressIntervalOf(options.progressInterval, env)
  const color = useColor(stdout, env)
  const concurrency = concurrencyOf(options.concurrency, variants.length)

  // Each variant's tasks, its deployer's steps in place, found one variant after the other: a config's
  // plugins are loaded by jiti, whose concurrent imports of one module can see it unfinished.
  const tasks = new Map<Variant, Task[]>()
  for (const variant of variants) tasks.set(variant, await tasksFor(workflow, variant))
  if (!dryRun) await preflight(variants, tasks, options)

  const started = now()
  const { id, dir } = dryRun ? plannedRunDir(config.workdir, workflow.id, started) : await createRunDir(config.workdir, workflow.id, started).catch((error: unknown) => {
    throw workdirProblem(error, config)
  })
  const run: RunInfo = { id, dir, dryRun, recreate, cache: options.cache !== false && !cacheOffIn(env), ...(options.configArgs ? { configArgs: options.configArgs } : {}) }
  // One run at a time per variant; a dry run changes nothing and takes no lock.
  const lockWarnings: string[] = []
  let locks: VariantLocks | undefined
  if (!dryRun) {
    try {
      locks = await lockVariants({
        workdir: config.workdir,
        variants: variants.map((variant) => variant.name),
        run: id,
        runDir: dir,
        command: options.command ?? formatCommandLine(['kspawn', ...process.argv.slice(2)]),
        warn: (message) => lockWarnings.push(message),
        now,
      })
    } catch (error) {
      await rm(dir, { recursive: true, force: true })
      throw error
    }
  }
  try {
    return await runLocked()
  } finally {
    await locks?.release()
  }

  async function runLocked(): Promise<RunOutcome> {
    const hub = createEventHub()
    const log = dryRun ? undefined : openEventLog(path.join(dir, EVENTS_FILE))
    if (log) hub.on(log.listener)
    if (renderer === 'json') hub.on(printEvents(stdout))
    let printedCommands = 0
    hub.on((event) => {
      if (event.kind === 'cmd' && event.dryRun) printedCommands++
    })

    const interruption = new AbortController()
    const runner = createRunner({
      runDir: dir,
      dryRun,
      emit: hub.emit,
      isRoot,
      ...(locks && {
        processes: {
          started: (source: EventSource, pgid: number, commandLine: string) => locks!.started(source.variant, pgid, commandLine),
          ended: (source: EventSource, pgid: number) => locks!.ended(source.variant, pgid),
        },
      }),
    })
    const services: Services = { runner, emit: hub.emit, isRoot, signal: interruption.signal }
    const prepared = await Promise.all(variants.map((variant) => prepareVariant(variant, tasks.get(variant)!, { ...options, run })))
    const runs = prepared.map((variant) => variant.run)
    const recorder = new RunRecorder({
      id,
      workflow: workflow.id,
      config,
      variants: runs.map(({ ctx, tasks }) => ({ variant: ctx.variant, state: ctx.state, taskIds: tasks.map((task) => task.id) })),
      dryRun,
      started,
      ...(dryRun ? {} : { file: path.join(dir, STATE_FILE) }),
    })
    hub.on((event) => recorder.apply(event))

    const pipeline = buildPipeline({
      variants: runs,
      services,
      // Nothing waits in a dry run, and one variant after the other keeps each one's commands together.
      concurrency: dryRun ? 1 : concurrency,
      renderer,
      stdout,
      stderr,
      color,
      events: hub,
      progressInterval,
    })

    hub.emit({ kind: 'run-start', run: id, workflow: workflow.id, variants: variants.map((variant) => variant.name), dryRun, ...(dryRun ? {} : { dir }) })
    for (const message of lockWarnings) hub.emit({ kind: 'warn', message })
    for (const { warning } of prepared) if (warning) hub.emit({ kind: 'warn', message: warning })
    let interruptedBy: string | undefined
    let stopping: Promise<void> | undefined
    const interrupt = () => {
      const reason: unknown = options.signal?.reason
      interruptedBy = typeof reason === 'string' ? reason : 'an abort'
      hub.emit({ kind: 'warn', message: `interrupted by ${interruptedBy}: stopping the running commands` })
      interruption.abort(interruptedBy)
      stopping = runner.abort(interruptedBy)
    }
    const downCommand = (cluster: string) => kspawnDownCommand(run, cluster)
    const summaryOptions = (teardown?: ReadonlyMap<string, TeardownResult>): SummaryOptions => ({
      color,
      printedCommands,
      clusters: Object.fromEntries(variants.map((variant) => [variant.name, variant.cluster])),
      downCommand,
      ...(teardown ? { teardown } : {}),
      ...(dryRun ? {} : { dir }),
      ...(options.resumeCommand ? { resumeCommand: options.resumeCommand } : {}),
    })
    /**
     * junit.xml in the run's folder and where --junit says, from the record as
     * it ends; synchronous, for endNow too. A file that cannot be written is
     * warned about; false when that is the --junit one.
     */
    const writeJunits = (): boolean => {
      if (dryRun) return true
      let ok = true
      for (const file of [path.join(dir, JUNIT_FILE), ...(options.junitFile ? [options.junitFile] : [])]) {
        try {
          writeJunit(file, recorder.record)
        } catch (error) {
          stderr.write(`warning: could not write ${file}: ${(error as Error).message}\n`)
          if (file === options.junitFile) ok = false
        }
      }
      return ok
    }
    // Synchronous from start to end: the process exits as soon as it returns.
    const endNow = () => {
      const reason: unknown = options.force?.reason
      const by = typeof reason === 'string' ? reason : 'an abort'
      interruptedBy ??= by
      interruption.abort(interruptedBy)
      for (const { source, commandLine, cleanup, leftIfCut, notStarted } of runner.kill(interruptedBy)) {
        if (cleanup) {
          // The step was already interrupted; what it made is left, and the summary names it.
          hub.emit({ kind: 'warn', ...source, message: `removing what ${stepLabel(source)} made was cut short by ${by}: ${notStarted ? `${commandLine} did not run` : `killed ${commandLine}`}` })
          const state = runs.find((entry) => entry.ctx.variant.name === source.variant)?.ctx.state
          if (leftIfCut && state) state.leftBehind = [...(state.leftBehind ?? []), leftIfCut]
          continue
        }
        const message = `${stepLabel(source)} was interrupted by ${interruptedBy} while running: ${commandLine}\n  killed at once (SIGKILL) after ${by}`
        hub.emit({ kind: 'step-interrupted', ...source, message })
      }
      const end = recorder.finish(interruptedBy, now())
      hub.emit(end)
      writeJunits()
      void log?.close()
      locks?.releaseSync()
      // On a terminal the animated list still holds stdout: the summary would be kept back with it, and lost at the exit.
      pipeline.letGo()
      if (renderer !== 'json') stdout.write(formatSummary(recorder.record, summaryOptions()))
    }
    if (options.signal?.aborted) interrupt()
    else options.signal?.addEventListener('abort', interrupt, { once: true })
    options.force?.addEventListener('abort', endNow, { once: true })
    try {
      await pipeline.run()
      await stopping
    } finally {
      options.signal?.removeEventListener('abort', interrupt)
    }

    // An interrupted run stops at once; `kspawn down` removes its clusters.
    if (interruptedBy === undefined && !options.teardown) await checkClustersUp({ config, runs, runner, emit: (event) => hub.emit(event), dryRun, isRoot, downCommand })
    const teardown =
      options.teardown && interruptedBy === undefined ? await tearDownPrinting({ config, runs, runId: id, runner, hub, dryRun, isRoot, downCommand, renderer, stdout }) : undefined
    options.force?.removeEventListener('abort', endNow)
    const end = recorder.finish(interruptedBy, now())
    if (teardown && [...teardown.values()].some((result) => !result.removed)) end.exitCode = Math.max(end.exitCode, 1)
    // --junit asked for a file that could not be written: the run does not pass for CI.
    if (!writeJunits()) end.exitCode = Math.max(end.exitCode, 1)
    hub.emit(end)
    const logError = await log?.close()
    if (logError) stderr.write(`warning: could not write ${path.join(dir, EVENTS_FILE)}: ${logError.message}\n`)
    if (renderer !== 'json') stdout.write(formatSummary(recorder.record, summaryOptions(teardown)))
    return { exitCode: end.exitCode, record: recorder.record, ...(dryRun ? {} : { dir }) }
  }
}

/** The config's variants named on the command line, in the config's order; every variant when none is named. */
export function selectVariants(config: Config, names: string[] = []): Variant[] {
  const unknown = unknownVariants(config, names)
  if (unknown !== undefined) throw new UsageError(unknown)
  const selected = names.length === 0 ? config.variants : config.variants.filter((variant) => names.includes(variant.name))
  // An image variant waits for a build variant's kubelet and kubeadm; starting
  // build variants first keeps that wait from taking every slot of --concurrency.
  return [...selected.filter((variant) => variant.build), ...selected.filter((variant) => !variant.build)]
}

/** The names that are not variants of the config, said with those it has; undefined when there are none. */
export function unknownVariants(config: Config, names: readonly string[]): string | undefined {
  const known = config.variants.map((variant) => variant.name)
  const unknown = names.filter((name) => !known.includes(name))
  if (unknown.length === 0) return undefined
  const which = unknown.length === 1 ? `unknown variant "${unknown[0]}"` : `unknown variants ${unknown.map((name) => `"${name}"`).join(', ')}`
  return `${which}: ${config.file} has the variants ${known.join(', ')}`
}

/**
 * What the run needs that can be checked before its first command: each
 * task's own needs (Task.preflight) and the caller's (tools, daemons). Refuses
 * the run with every problem found, before anything is written.
 */
async function preflight(variants: Variant[], tasks: Map<Variant, Task[]>, options: RunWorkflowOptions): Promise<void> {
  const found = await Promise.all(variants.flatMap((variant) => tasks.get(variant)!.map((task) => task.preflight?.(options.config, variant) ?? Promise.resolve([]))))
  const ids = [...new Set(variants.flatMap((variant) => tasks.get(variant)!.map((task) => task.id)))]
  const problems = [...new Set([...found.flat(), ...((await options.preflight?.(variants, ids)) ?? [])])]
  if (problems.length === 0) return
  throw new UsageError([`cannot start ${options.workflow.id}, so nothing was run:`, ...problems.map((problem) => `  - ${problem}`), 'kspawn doctor checks this machine for the config.'].join('\n'))
}

/** A workdir kspawn cannot write, said as such (not as a raw ENOENT of mkdir); other errors as they are. */
function workdirProblem(error: unknown, config: Config): unknown {
  const { code, syscall, path: where } = error as NodeJS.ErrnoException
  if (!code || !['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'ENOSPC'].includes(code)) return error
  return new UsageError(
    `cannot write kspawn's workdir ${config.workdir} (${syscall ?? 'writing'} ${where ?? ''} failed: ${code}): it holds the runs, worktrees and cluster records; set workdir in ${config.file} to a folder you can write`,
    { cause: error },
  )
}

/** The variants of the latest run of the workflow with this config that are still in the config, for --resume. */
async function resumedVariants(config: Config, workflow: Workflow): Promise<Variant[]> {
  for (const dir of await listRunDirs(config.workdir)) {
    const record = await readRunRecord(dir)
    if (!record || record.dryRun || record.config !== config.file || record.workflow !== workflow.id) continue
    const names = record.variants.map((variant) => variant.name).filter((name) => config.variants.some((variant) => variant.name === name))
    if (names.length === 0) break
    return selectVariants(config, names)
  }
  throw new UsageError(`--resume: there is no earlier run of ${workflow.id} with ${config.file} (in ${path.join(config.workdir, 'runs')}) whose variants the config still has; run it without --resume`)
}

function concurrencyOf(requested: number | undefined, variants: number): number {
  if (requested === undefined) return Math.max(1, variants)
  if (!Number.isInteger(requested) || requested < 1) {
    throw new UsageError(`--concurrency must be a whole number of variants, 1 or more; found ${requested}`)
  }
  return requested
}

/** The variant's run, from what its latest run recorded when asked to; `warning` says why that record was not used. */
async function prepareVariant(variant: Variant, tasks: Task[], options: RunWorkflowOptions & { run: RunInfo }): Promise<{ run: VariantRun; warning?: string }> {
  const { config, workflow, run } = options
  const initial = initialVariantState(config, variant)
  const fresh = { ctx: { config, variant, state: initial, run }, tasks }
  if (!options.resume && !options.inheritState) return { run: fresh }
  const recorded = await findLatestRecord(config, variant, options.resume ? { workflow: workflow.id } : {})
  if (!recorded) return { run: fresh }
  const changes = variantChanges(recorded.variant.fingerprint, variant)
  if (changes.length > 0) {
    // What the earlier run made was made from the old definition: nothing of it is reused.
    const outcome = options.resume ? '--resume starts it over' : 'nothing that run recorded is used'
    return { run: fresh, warning: `variant ${variant.name} changed since run ${recorded.run.id} (${changes.join('; ')}): ${outcome}` }
  }
  if (!options.resume) {
    // Smoke results belong to the run that saw them; a task run alone starts from what was built and brought up.
    const { smoke: _, leftBehind: __, clusterGone: ___, ...earlier } = recorded.variant.state
    return { run: { ctx: { config, variant, state: { ...initial, ...earlier }, run }, tasks } }
  }
  const done = recorded.variant.tasks.filter((task) => task.status === 'done')
  // Smoke results belong to the cluster they were seen on: kept only while the smoke test counts as done.
  const { smoke, leftBehind: _, clusterGone: __, ...earlier } = recorded.variant.state
  const state = { ...initial, ...earlier, ...(smoke && done.some((task) => task.id === 'smoke-test') ? { smoke } : {}) }
  return { run: { ctx: { config, variant, state, run }, tasks, done: new Map(done.map((task) => [task.id, task.doneIn ?? recorded.run.id])) } }
}

/** tearDown, with its dry-run commands printed as the run printed the others (the task list has ended). */
async function tearDownPrinting(options: Omit<TeardownOptions, 'emit'> & { hub: EventHub; renderer: RendererName; stdout: Output }) {
  const { hub, renderer, stdout, ...rest } = options
  const unsubscribe = hub.on((event) => {
    if (event.kind === 'cmd' && event.dryRun && renderer !== 'json') stdout.write(`$ ${event.commandLine}\n`)
  })
  try {
    return await tearDown({ ...rest, emit: hub.emit })
  } finally {
    unsubscribe()
  }
}
