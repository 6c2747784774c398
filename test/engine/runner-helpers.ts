// Shared by the runner's tests: a temporary run folder, a runner that records
// its events, and a look at /proc for what survives a kill.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KspawnEvent } from '../../engine/run/events.ts'
import { createRunner, type Runner, type RunnerOptions } from '../../engine/runner/runner.ts'

export interface Setup {
  dir: string
  runner: Runner
  events: KspawnEvent[]
  cleanup(): Promise<void>
}

export async function setup(options: Partial<RunnerOptions> = {}): Promise<Setup> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-runner-'))
  const events: KspawnEvent[] = []
  const runner = createRunner({ runDir: path.join(dir, 'run'), dryRun: false, emit: (event) => events.push(event), ...options })
  return { dir, runner, events, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

/** The file's text once something has written it; a minute at most, as a loaded machine may take that long to start a CLI. */
export async function waitForFile(file: string): Promise<string> {
  for (let i = 0; i < 2400; i++) {
    const text = await readFile(file, 'utf8').catch(() => '')
    if (text.trim()) return text.trim()
    await sleep(25)
  }
  throw new Error(`${file} was never written`)
}

/** Process group of a live process, from /proc/<pid>/stat. */
export async function processGroupOf(pid: number): Promise<number> {
  return (await readStat(pid))?.pgrp ?? Number.NaN
}

/** Pids of the processes of a group that are still alive (zombies are dead). */
export function livingMembers(pgid: number): Promise<number[]> {
  return living((stat) => stat.pgrp === pgid)
}

/** Pids of the processes of a session (e.g. all that run on a terminal, but those that left it) that are still alive. */
export function livingInSession(sid: number): Promise<number[]> {
  return living((stat) => stat.session === sid)
}

interface Stat {
  state: string
  pgrp: number
  session: number
}

async function living(match: (stat: Stat) => boolean): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number)
  const members: number[] = []
  for (const pid of pids) {
    const stat = await readStat(pid)
    if (stat && match(stat) && stat.state !== 'Z') members.push(pid)
  }
  return members
}

async function readStat(pid: number): Promise<Stat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  if (!text) return undefined
  // The command name in parentheses may hold spaces; the fields after it do not.
  const [state, , pgrp, session] = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: state ?? '', pgrp: Number(pgrp), session: Number(session) }
}
