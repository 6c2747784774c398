// The per-variant run lock: a second run is refused naming the first, locks
// are all or none, and a lock left by a run whose process is gone is taken
// over after what that run left running is stopped and its record settled.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { InUseError, lockFile, lockVariants, readLock, type LockRecord } from '../../engine/run/run-lock.ts'
import { livingMembers } from './runner-helpers.ts'

async function workdir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'kspawn-lock-'))
}

const options = (dir: string, variants: string[], warnings: string[] = []) => ({
  workdir: dir,
  variants,
  run: '20261201T220000Z-dev-loop',
  runDir: path.join(dir, 'runs', '20261201T220000Z-dev-loop'),
  command: `kspawn run dev-loop --variant ${variants.join(' --variant ')}`,
  warn: (message: string) => warnings.push(message),
  now: () => new Date('2026-12-01T22:03:00Z'),
})

/** The pid of a process that has ended. */
async function deadPid(): Promise<number> {
  const child = spawn('true')
  await once(child, 'exit')
  return child.pid!
}

test('a second run of a variant is refused at once, naming the run that holds it; other variants are free', async () => {
  const dir = await workdir()
  try {
    const first = await lockVariants({ ...options(dir, ['web']), now: () => new Date('2026-12-01T22:00:00Z') })
    const held = await readLock(lockFile(dir, 'web'))
    assert.equal(held && { pid: held.pid, command: held.command, since: held.since, commands: held.commands }, { pid: process.pid, command: 'kspawn run dev-loop --variant web', since: '2026-12-01T22:00:00.000Z', commands: [] })

    const error = await lockVariants(options(dir, ['api', 'web'])).then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    assert.instance(error, InUseError)
    assert.is((error as InUseError).exitCode, 2)
    assert.is(
      (error as Error).message,
      `variant web is in use by another kspawn run: pid ${process.pid}, \`kspawn run dev-loop --variant web\`, since 2026-12-01T22:00:00.000Z (3m ago), run 20261201T220000Z-dev-loop; wait for it to end, or stop it with Ctrl-C in its terminal (or: kill -INT ${process.pid}). Commands that only read (list, clusters, doctor, --dry-run) are not blocked.`,
    )
    // All or none: the refused run did not keep api.
    assert.not.ok(existsSync(lockFile(dir, 'api')))
    const other = await lockVariants(options(dir, ['api']))
    await other.release()

    // The commands a run has running are in its lock, for a run that finds it dead.
    first.started('web', 4242, 'build/run.sh make')
    first.started(undefined, 4343, 'git fetch kinvolk')
    assert.equal((await readLock(lockFile(dir, 'web')))?.commands, [
      { pgid: 4242, commandLine: 'build/run.sh make' },
      { pgid: 4343, commandLine: 'git fetch kinvolk' },
    ])
    first.ended('web', 4242)
    assert.equal((await readLock(lockFile(dir, 'web')))?.commands, [{ pgid: 4343, commandLine: 'git fetch kinvolk' }])
    await first.release()
    assert.not.ok(existsSync(lockFile(dir, 'web')))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('a lock of a run that is gone is taken over: what it left running is stopped, and its record says it was interrupted', async () => {
  const dir = await workdir()
  const orphan = spawn('sh', ['-c', 'sleep 300 & wait'], { detached: true, stdio: 'ignore' })
  try {
    const deadRunDir = path.join(dir, 'runs', '20261201T210000Z-dev-loop')
    await mkdir(deadRunDir, { recursive: true })
    const state = {
      version: 1,
      id: '20261201T210000Z-dev-loop',
      status: 'running',
      variants: [{ name: 'web', status: 'running', tasks: [{ id: 'fetch-source', status: 'done' }, { id: 'build', status: 'running' }, { id: 'image', status: 'not-run' }], state: {} }],
    }
    await writeFile(path.join(deadRunDir, 'state.json'), JSON.stringify(state))
    const pid = await deadPid()
    const dead: LockRecord = {
      pid,
      command: 'kspawn run dev-loop',
      since: '2026-12-01T21:00:00.000Z',
      run: '20261201T210000Z-dev-loop',
      runDir: deadRunDir,
      commands: [{ pgid: orphan.pid!, commandLine: 'build/run.sh make' }],
    }
    await mkdir(path.join(dir, 'locks'))
    await writeFile(lockFile(dir, 'web'), JSON.stringify(dead))
    assert.ok((await livingMembers(orphan.pid!)).length >= 2, 'the orphaned build runs')

    const warnings: string[] = []
    const locks = await lockVariants(options(dir, ['web'], warnings))
    assert.equal((await livingMembers(orphan.pid!)), [], 'the orphaned build is stopped')
    assert.equal(warnings, [
      `run 20261201T210000Z-dev-loop (pid ${pid}, kspawn run dev-loop, since 2026-12-01T21:00:00.000Z) is gone without ending: stopping what it left running: build/run.sh make (process group ${orphan.pid})`,
      `run 20261201T210000Z-dev-loop (pid ${pid}, kspawn run dev-loop, since 2026-12-01T21:00:00.000Z) is gone without ending: its lock is taken over; stopped what it left running: build/run.sh make (process group ${orphan.pid}); ${path.join(deadRunDir, 'state.json')} now says it was interrupted`,
    ])
    const settled = JSON.parse(await readFile(path.join(deadRunDir, 'state.json'), 'utf8'))
    assert.is(settled.status, 'interrupted')
    assert.is(settled.exitCode, 130)
    assert.is(settled.interruptedBy, `the end of its process (pid ${pid} was gone at 2026-12-01T22:03:00.000Z)`)
    assert.equal(settled.variants[0].tasks.map((task: { id: string; status: string }) => `${task.id}:${task.status}`), ['fetch-source:done', 'build:interrupted', 'image:not-run'])
    assert.equal([settled.variants[0].status, settled.variants[0].stoppedAt], ['interrupted', 'build'])
    assert.is((await readLock(lockFile(dir, 'web')))?.pid, process.pid)
    await locks.release()
  } finally {
    try {
      process.kill(-orphan.pid!, 'SIGKILL')
    } catch {}
    await rm(dir, { recursive: true, force: true })
  }
})

test('a live pid that started after the lock was written is another process: the lock is taken over', async () => {
  const dir = await workdir()
  try {
    await mkdir(path.join(dir, 'locks'))
    // This very process, but "started" at another time: the pid was reused.
    const reused: LockRecord = { pid: process.pid, pidStart: 1, command: 'kspawn run dev-loop', since: '2026-12-01T21:00:00.000Z', run: 'r', runDir: path.join(dir, 'nowhere'), commands: [] }
    await writeFile(lockFile(dir, 'web'), JSON.stringify(reused))
    const warnings: string[] = []
    const locks = await lockVariants(options(dir, ['web'], warnings))
    assert.is(warnings.length, 1)
    assert.match(warnings[0]!, /^run r \(pid \d+, kspawn run dev-loop, since 2026-12-01T21:00:00.000Z\) is gone without ending: its lock is taken over$/)
    await locks.release()
    // A damaged lock (its run was killed while writing it) is no lock.
    await writeFile(lockFile(dir, 'web'), '{"pid": 12')
    const again = await lockVariants(options(dir, ['web']))
    await again.release()
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
