// The record of a run, state.json in its folder: for each variant, each task's
// status and where the variant stopped, and the state its tasks learnt. It is
// built from the event stream and rewritten whenever a step changes, so that
// a run killed outright still leaves a record of how far it got.
import { renameSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Config, Variant } from '../config/config.ts'
import type { KspawnEvent, RunEndEvent, VariantStatus } from './events.ts'
import { listRunDirs, STATE_FILE } from './run-dir.ts'
import type { VariantState } from './task.ts'
import { variantFingerprint } from './variant-state.ts'

/** `running` only while the run goes on, or in the record of a run that was killed. */
export type TaskStatus = 'done' | 'failed' | 'skipped' | 'not-run' | 'interrupted' | 'running'

export interface TaskRecord {
  id: string
  status: TaskStatus
  durationMs?: number
  /** Why it was skipped, or what failed. */
  message?: string
  logFile?: string
  /** For a task a resumed run did not repeat: the run that did it. */
  doneIn?: string
}

export interface VariantRecord {
  name: string
  /** What the variant was in the config; a later run reuses this record only if it is unchanged. */
  fingerprint: string
  status: VariantStatus | 'running'
  /** The task where the variant stopped: the one that failed or was interrupted, or the first that did not run. */
  stoppedAt?: string
  tasks: TaskRecord[]
  state: VariantState
}

export interface RunRecord {
  version: 1
  id: string
  workflow: string
  /** The config file, absolute. */
  config: string
  dryRun: boolean
  startedAt: string
  endedAt?: string
  status: VariantStatus | 'running'
  exitCode?: number
  interruptedBy?: string
  variants: VariantRecord[]
}

export interface RunRecorderOptions {
  id: string
  workflow: string
  config: Config
  /** Each with the ids of the tasks it runs, in order. */
  variants: { variant: Variant; state: VariantState; taskIds: string[] }[]
  dryRun: boolean
  started: Date
  /** Where state.json is kept up to date; nothing is written without it (dry-run). */
  file?: string
}

export class RunRecorder {
  readonly record: RunRecord
  private readonly file: string | undefined

  constructor(options: RunRecorderOptions) {
    this.file = options.file
    this.record = {
      version: 1,
      id: options.id,
      workflow: options.workflow,
      config: options.config.file,
      dryRun: options.dryRun,
      startedAt: options.started.toISOString(),
      status: 'running',
      variants: options.variants.map(({ variant, state, taskIds }) => ({
        name: variant.name,
        fingerprint: variantFingerprint(variant),
        status: 'running',
        tasks: taskIds.map((id) => ({ id, status: 'not-run' })),
        // The live object the tasks update, so each write has their latest findings.
        state,
      })),
    }
    this.write()
  }

  /** Reads one event of the run; steps change the record. */
  apply(event: KspawnEvent): void {
    if (!event.kind.startsWith('step-') || !('variant' in event)) return
    const task = this.variant(event.variant)?.tasks.find((task) => task.id === event.step)
    if (!task) return
    const update = (patch: Partial<TaskRecord>) => Object.assign(task, patch)
    switch (event.kind) {
      case 'step-start':
        update({ status: 'running' })
        break
      case 'step-skip':
        // A step that an earlier run did counts as done, so that resuming a resumed run skips it too.
        update(event.doneIn ? { status: 'done', message: event.reason, doneIn: event.doneIn } : { status: 'skipped', message: event.reason })
        break
      case 'step-done':
        update({ status: 'done', durationMs: event.durationMs })
        break
      case 'step-failed':
        update({ status: 'failed', message: event.message, ...(event.logFile ? { logFile: event.logFile } : {}) })
        break
      case 'step-interrupted':
        update({ status: 'interrupted', message: event.message })
        break
      default:
        return
    }
    this.write()
  }

  /**
   * Settles every variant's status and the run's exit status: 130 if a
   * variant was interrupted, 1 if one failed, else 0. Returns the run's last
   * event, which says the same.
   */
  finish(interruptedBy: string | undefined, ended: Date): RunEndEvent {
    const variants = this.record.variants.map((variant) => {
      for (const task of variant.tasks) if (task.status === 'running') task.status = 'interrupted'
      const { status, stoppedAt } = settle(variant.tasks, interruptedBy !== undefined)
      Object.assign(variant, { status }, stoppedAt ? { stoppedAt } : {})
      return { name: variant.name, status, ...(stoppedAt ? { stoppedAt } : {}) }
    })
    const statuses = variants.map((variant) => variant.status)
    const status = statuses.includes('interrupted') ? 'interrupted' : statuses.includes('failed') ? 'failed' : 'passed'
    const exitCode = status === 'interrupted' ? 130 : status === 'failed' ? 1 : 0
    const interrupted = interruptedBy === undefined ? {} : { interruptedBy }
    Object.assign(this.record, { endedAt: ended.toISOString(), status, exitCode, ...interrupted })
    this.write()
    return { kind: 'run-end', run: this.record.id, exitCode, ...interrupted, variants }
  }

  private variant(name: string | undefined): VariantRecord | undefined {
    return this.record.variants.find((variant) => variant.name === name)
  }

  // Synchronous and atomic (write, then rename): the file is never seen half-written, even by a run killed mid-write.
  private write(): void {
    if (!this.file) return
    const temporary = `${this.file}.${process.pid}.tmp`
    writeFileSync(temporary, `${JSON.stringify(this.record, null, 2)}\n`)
    renameSync(temporary, this.file)
  }
}

function settle(tasks: TaskRecord[], runInterrupted: boolean): { status: VariantStatus; stoppedAt?: string } {
  const failed = tasks.find((task) => task.status === 'failed')
  if (failed) return { status: 'failed', stoppedAt: failed.id }
  const interrupted = tasks.find((task) => task.status === 'interrupted')
  const notRun = tasks.find((task) => task.status === 'not-run')
  if (interrupted) return { status: 'interrupted', stoppedAt: interrupted.id }
  if (notRun && runInterrupted) return { status: 'interrupted', stoppedAt: notRun.id }
  // A task that never started in a run that nobody stopped: something outside the tasks failed.
  if (notRun) return { status: 'failed', stoppedAt: notRun.id }
  return { status: 'passed' }
}

export async function readRunRecord(runDir: string): Promise<RunRecord | undefined> {
  const text = await readFile(path.join(runDir, STATE_FILE), 'utf8').catch(() => undefined)
  if (text === undefined) return undefined
  try {
    const record = JSON.parse(text) as RunRecord
    return record.version === 1 && Array.isArray(record.variants) ? record : undefined
  } catch {
    return undefined
  }
}

export interface RecordedVariant {
  run: RunRecord
  variant: VariantRecord
}

/**
 * The latest record of a variant in a run of the same config file that was
 * not a dry run; with `workflow`, only the latest run of that workflow is
 * considered (what `--resume` continues). The variant may have been defined
 * otherwise then: its fingerprint says how, and such a record is not to be
 * reused (nor any older one).
 */
export async function findLatestRecord(config: Config, variant: Variant, options: { workflow?: string } = {}): Promise<RecordedVariant | undefined> {
  for (const dir of await listRunDirs(config.workdir)) {
    const run = await readRunRecord(dir)
    if (!run || run.config !== config.file || run.dryRun) continue
    if (options.workflow !== undefined && run.workflow !== options.workflow) continue
    const recorded = run.variants.find((candidate) => candidate.name === variant.name)
    if (recorded) return { run, variant: recorded }
  }
  return undefined
}
