import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { CommandError, Interrupted } from '../../engine/errors.ts'
import type { Runner } from '../../engine/runner/runner.ts'
import { livingMembers, processGroupOf, rejection, setup, waitForFile } from './runner-helpers.ts'

const build = { id: 'build', variant: 'denyattach' }

// sh starts a subshell that starts `sleep 300`: the sleep is a grandchild of
// the command, and writes its pid where the test can find it.
const grandchildSleep = (pidFile: string, prelude = '') => [
  'sh',
  '-c',
  `${prelude}( sleep 300 & echo $! > "$1"; wait ) & echo building; wait`,
  'build',
  pidFile,
]

test('abort kills the whole process group, grandchildren included, and run() rejects with Interrupted', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    const pidFile = path.join(dir, 'sleep.pid')
    const running = runner.run({ argv: grandchildSleep(pidFile) }, build)
    const group = await processGroupOf(Number(await waitForFile(pidFile)))
    assert.ok((await livingMembers(group)).length >= 3, 'sh, the subshell and sleep are running')

    await runner.abort('SIGINT')
    const error = await rejection(running)

    assert.equal(await livingMembers(group), [], 'no process of the group survives')
    assert.instance(error, Interrupted)
    assert.is((error as Interrupted).exitCode, 130)
    const logFile = path.join(dir, 'run', 'denyattach', 'build.log')
    assert.is(
      error.message,
      `build (denyattach) was interrupted by SIGINT while running: ${formatCommandLine(grandchildSleep(pidFile))}\n  full log: ${logFile}`,
    )
    assert.match(await readFile(logFile, 'utf8'), /\nbuilding\n# was interrupted by SIGINT \([\d.]+m?s\)\n$/)
  } finally {
    await cleanup()
  }
})

test('processes that ignore SIGTERM are killed after the grace period', async () => {
  const { dir, runner, cleanup } = await setup({ killGraceMs: 300 })
  try {
    const pidFile = path.join(dir, 'sleep.pid')
    const running = runner.run({ argv: grandchildSleep(pidFile, `trap '' TERM; `) }, build)
    const group = await processGroupOf(Number(await waitForFile(pidFile)))

    await runner.abort()
    const error = await rejection(running)

    assert.equal(await livingMembers(group), [])
    assert.match(error.message, /^build \(denyattach\) was interrupted while running: sh -c/)
  } finally {
    await cleanup()
  }
})

test('after abort, a new command is not started', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    await runner.abort('SIGINT')
    const error = await rejection(runner.run({ argv: ['touch', path.join(dir, 'never')] }, { id: 'image' }))
    assert.instance(error, Interrupted)
    assert.is(error.message, `image was not started, the run was interrupted by SIGINT: touch ${path.join(dir, 'never')}`)
  } finally {
    await cleanup()
  }
})

test('cleanup commands run after abort, are not stopped by it, and kill() still kills them', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    const pidFile = path.join(dir, 'sleep.pid')
    const removing = runner.run({ argv: grandchildSleep(pidFile), cleanup: true }, { id: 'cluster-up', variant: 'denyattach' })
    const group = await processGroupOf(Number(await waitForFile(pidFile)))
    await runner.abort('SIGINT')
    assert.ok((await livingMembers(group)).length >= 3, 'the cleanup command still runs after abort')

    const after = await runner.run({ argv: ['touch', path.join(dir, 'removed')], cleanup: true }, { id: 'cluster-up', variant: 'denyattach' })
    assert.is(after.exitCode, 0)
    assert.ok(await readFile(path.join(dir, 'removed'), 'utf8').then(() => true))
    assert.instance(await rejection(runner.run({ argv: ['true'] }, { id: 'smoke-test' })), Interrupted)

    const killed = runner.kill('SIGINT')
    assert.equal(killed.map((command) => command.source), [{ step: 'cluster-up', variant: 'denyattach' }])
    await rejection(removing)
    assert.equal(await livingMembers(group), [])
  } finally {
    await cleanup()
  }
})

test('kill() reports a cleanup command asked for and not yet started, with what it would have removed; one that ran reports nothing', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    await runner.run({ argv: ['true'], cleanup: true, leftIfCut: 'nothing: it ran' }, { id: 'smoke-test', variant: 'web' })
    // Not awaited: kill() comes while the runner is still opening its log file.
    const owed = runner.run({ argv: ['touch', path.join(dir, 'removed')], cleanup: true, leftIfCut: 'pod p; remove it with: kubectl delete pod p' }, { id: 'smoke-test', variant: 'web' })
    const killed = runner.kill('SIGINT')
    assert.equal(killed, [{ source: { step: 'smoke-test', variant: 'web' }, commandLine: `touch ${path.join(dir, 'removed')}`, cleanup: true, notStarted: true, leftIfCut: 'pod p; remove it with: kubectl delete pod p' }])
    await owed.catch(() => undefined)
  } finally {
    await cleanup()
  }
})

test('an abort that comes as a command is being started stops it too', async () => {
  let runner: Runner | undefined
  const started = await setup({ emit: (event) => void (event.kind === 'cmd' && runner?.abort('SIGTERM')) })
  runner = started.runner
  try {
    const begun = performance.now()
    const error = await rejection(runner.run({ argv: ['sleep', '30'] }, build))
    assert.instance(error, Interrupted)
    assert.match(error.message, /^build \(denyattach\) was interrupted by SIGTERM while running: sleep 30\n/)
    assert.ok(performance.now() - begun < 10_000, 'the command did not run to its end')
  } finally {
    await started.cleanup()
  }
})

test('a command that outlives timeoutMs is killed with its group and fails with a timeout message', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    const pidFile = path.join(dir, 'sleep.pid')
    const running = runner.run({ argv: grandchildSleep(pidFile), timeoutMs: 500 }, { id: 'cluster-up', variant: 'denyattach' })
    const group = await processGroupOf(Number(await waitForFile(pidFile)))
    const error = await rejection(running)

    assert.equal(await livingMembers(group), [])
    assert.instance(error, CommandError)
    const logFile = path.join(dir, 'run', 'denyattach', 'cluster-up.log')
    assert.match(
      error.message,
      /^cluster-up \(denyattach\) failed: sh -c .* timed out after 500ms and was stopped\n  last lines:\n    building\n  full log: /,
    )
    assert.ok(error.message.endsWith(`full log: ${logFile}`))
    assert.match(await readFile(logFile, 'utf8'), /\n# timed out after 500ms and was stopped \([\d.]+m?s\)\n$/)
  } finally {
    await cleanup()
  }
})

test.run()
