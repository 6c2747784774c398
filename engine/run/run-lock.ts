// One run at a time per variant: a run that changes things (not a dry run)
// holds <workdir>/locks/<variant>.json for each of its variants while it
// goes on, so that two runs never build in one worktree or bring up one
// cluster at once. A second run is refused at once (exit 2), saying which
// run holds the variant. The lock also lists the commands its run has
// running (their process groups): a lock left by a run whose process is gone
// (kill -9, a crash) is taken over with a warning, after what that run left
// running is stopped and its state.json is settled as interrupted, so that
// nothing races with an orphan and no record stays "running".
//
// Read-only commands (list, clusters, doctor, dry runs) take no lock.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { KspawnError } from '../errors.ts'
import { signalGroup, terminateGroup } from '../runner/process-tree.ts'
import { STATE_FILE } from './run-dir.ts'
import type { RunRecord } from './run-state.ts'

/** Another live run holds a variant this run needs. */
export class InUseError extends KspawnError {
  readonly exitCode = 2
}

/** What a lock file holds. */
export interface LockRecord {
  pid: number
  /** The process's start time (clock ticks since boot, /proc/<pid>/stat), so that a reused pid is not taken for the holder. */
  pidStart?: number
  /** The command line of the run, e.g. `kspawn run dev-loop --variant web`. */
  command: string
  /** ISO time the lock was taken. */
  since: string
  run: string
  /** The run's folder, where its state.json is. */
  runDir: string
  /** Commands of the run that are running, each the leader of its process group. */
  commands: { pgid: number; commandLine: string }[]
}

export interface VariantLocks {
  /** Adds or removes a running command of the run (of one variant, or of all when undefined). */
  started(variant: string | undefined, pgid: number, commandLine: string): void
  ended(variant: string | undefined, pgid: number): void
  /** Removes the lock files. */
  release(): Promise<void>
  /** The same, at once: for a process that exits right after. */
  releaseSync(): void
}

export interface LockOptions {
  workdir: string
  variants: readonly string[]
  run: string
  runDir: string
  command: string
  /** Warnings about locks taken over from runs that are gone. */
  warn(message: string): void
  now?: () => Date
}

export function lockFile(workdir: string, variant: string): string {
  return path.join(workdir, 'locks', `${variant}.json`)
}

/**
 * Takes the lock of every variant, or none: refuses with InUseError naming
 * each run that holds one. Locks of runs that are gone are taken over.
 */
export async function lockVariants(options: LockOptions): Promise<VariantLocks> {
  const now = options.now ?? (() => new Date())
  const record: LockRecord = {
    pid: process.pid,
    ...startTimeOf(process.pid),
    command: options.command,
    since: now().toISOString(),
    run: options.run,
    runDir: options.runDir,
    commands: [],
  }
  await mkdir(path.join(options.workdir, 'locks'), { recursive: true })
  const held: string[] = []
  const busy: { variant: string; holder: LockRecord }[] = []
  for (const variant of [...options.variants].sort()) {
    const holder = await take(lockFile(options.workdir, variant), record, options, now)
    if (holder) busy.push({ variant, holder })
    else held.push(variant)
  }
  if (busy.length > 0) {
    await Promise.all(held.map((variant) => rm(lockFile(options.workdir, variant), { force: true })))
    throw new InUseError(busy.map(({ variant, holder }) => inUse(variant, holder, now())).join('\n'))
  }
  return holding(options.workdir, held, record)
}

/** Writes the lock when it is free (or its holder is gone) and resolves undefined; resolves to the live holder otherwise. */
async function take(file: string, record: LockRecord, options: LockOptions, now: () => Date): Promise<LockRecord | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(file, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx' })
      return undefined
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = await readLock(file)
    if (holder && isAlive(holder)) return holder
    // Gone (or unreadable: a lock written half when its run was killed). Only one run wins the rename.
    const stale = `${file}.stale-${process.pid}`
    try {
      await rename(file, stale)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw error
    }
    await rm(stale, { force: true })
    if (holder) await settleDeadRun(holder, options, now)
  }
  throw new InUseError(`could not take ${file}: other runs kept taking and leaving it`)
}

/** Stops what the dead run left running, marks its record interrupted, and says so. */
async function settleDeadRun(holder: LockRecord, options: LockOptions, now: () => Date): Promise<void> {
  const gone = `run ${holder.run} (pid ${holder.pid}, ${holder.command}, since ${holder.since}) is gone without ending`
  const left = holder.commands.filter((command) => signalGroup(command.pgid, 0))
  const stopped = left.map((command) => `${command.commandLine} (process group ${command.pgid})`)
  // Said before it is done: stopping takes up to a few seconds a command.
  if (left.length > 0) options.warn(`${gone}: stopping what it left running: ${stopped.join(', ')}`)
  for (const command of left) await terminateGroup(command.pgid, 5000)
  const settled = await settleRecord(holder, now)
  const parts = [
    `${gone}: its lock is taken over`,
    ...(stopped.length > 0 ? [`stopped what it left running: ${stopped.join(', ')}`] : []),
    ...(settled ? [`${path.join(holder.runDir, STATE_FILE)} now says it was interrupted`] : []),
  ]
  options.warn(parts.join('; '))
}

/** A record still "running" of a run that is gone: interrupted, where it was. Resolves whether it changed it. */
async function settleRecord(holder: LockRecord, now: () => Date): Promise<boolean> {
  const file = path.join(holder.runDir, STATE_FILE)
  let record: RunRecord
  try {
    record = JSON.parse(await readFile(file, 'utf8')) as RunRecord
  } catch {
    return false
  }
  if (record.status !== 'running') return false
  const reason = `the end of its process (pid ${holder.pid} was gone at ${now().toISOString()})`
  for (const variant of record.variants) {
    for (const task of variant.tasks) {
      if (task.status === 'running') Object.assign(task, { status: 'interrupted', message: `interrupted by ${reason}` })
    }
    if (variant.status === 'running') {
      variant.status = 'interrupted'
      variant.stoppedAt = (variant.tasks.find((task) => task.status === 'interrupted') ?? variant.tasks.find((task) => task.status === 'not-run'))?.id
    }
  }
  Object.assign(record, { status: 'interrupted', exitCode: 130, interruptedBy: reason, endedAt: now().toISOString() })
  const temporary = `${file}.settle-${process.pid}`
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`)
  await rename(temporary, file)
  return true
}

function inUse(variant: string, holder: LockRecord, now: Date): string {
  const since = new Date(holder.since)
  const ago = Number.isNaN(since.getTime()) ? '' : ` (${formatAgo(now.getTime() - since.getTime())} ago)`
  return `variant ${variant} is in use by another kspawn run: pid ${holder.pid}, \`${holder.command}\`, since ${holder.since}${ago}, run ${holder.run}; wait for it to end, or stop it with Ctrl-C in its terminal (or: kill -INT ${holder.pid}). Commands that only read (list, clusters, doctor, --dry-run) are not blocked.`
}

function formatAgo(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  if (seconds < 90) return `${seconds}s`
  const minutes = Math.round(seconds / 60)
  return minutes < 90 ? `${minutes}m` : `${Math.round(minutes / 60)}h`
}

export async function readLock(file: string): Promise<LockRecord | undefined> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as LockRecord
    return typeof value.pid === 'number' && typeof value.command === 'string' ? { ...value, commands: Array.isArray(value.commands) ? value.commands : [] } : undefined
  } catch {
    return undefined
  }
}

/** Whether the lock's process still runs: its pid, started when the lock says (a pid can be reused). */
export function isAlive(holder: Pick<LockRecord, 'pid' | 'pidStart'>): boolean {
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const start = startTimeOf(holder.pid).pidStart
  return holder.pidStart === undefined || start === undefined || start === holder.pidStart
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTimeOf(pid: number): { pidStart?: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const start = Number(fields[19])
    return Number.isFinite(start) ? { pidStart: start } : {}
  } catch {
    return {}
  }
}

function holding(workdir: string, variants: string[], record: LockRecord): VariantLocks {
  const commands = new Map<string, LockRecord['commands']>(variants.map((variant) => [variant, []]))
  let released = false
  const write = (variant: string) => {
    if (released) return
    const file = lockFile(workdir, variant)
    // Written whole and renamed into place, synchronously: small, and never seen half written.
    const temporary = `${file}.${process.pid}`
    try {
      writeFileSync(temporary, `${JSON.stringify({ ...record, commands: commands.get(variant) }, null, 2)}\n`)
      renameSync(temporary, file)
    } catch {
      // The lock still names the run; only its list of commands is behind.
    }
  }
  const touched = (variant: string | undefined) => (variant !== undefined && commands.has(variant) ? [variant] : variants)
  return {
    started(variant, pgid, commandLine) {
      for (const name of touched(variant)) {
        commands.get(name)!.push({ pgid, commandLine })
        write(name)
      }
    },
    ended(variant, pgid) {
      for (const name of touched(variant)) {
        const list = commands.get(name)!
        const at = list.findIndex((command) => command.pgid === pgid)
        if (at === -1) continue
        list.splice(at, 1)
        write(name)
      }
    },
    async release() {
      released = true
      await Promise.all(variants.map((variant) => rm(lockFile(workdir, variant), { force: true })))
    },
    releaseSync() {
      released = true
      for (const variant of variants) rmSync(lockFile(workdir, variant), { force: true })
    },
  }
}
