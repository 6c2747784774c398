// A real SIGINT to a kspawn process in the middle of a build: the build's
// process group is stopped, state.json records where the run stopped, and
// kspawn exits 130.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { livingMembers, processGroupOf, waitForFile } from '../engine/runner-helpers.ts'
import { writeConfigFile } from '../engine/workflow-helpers.ts'

const fakeCli = path.join(import.meta.dirname, 'fake-cli.ts')
// The child runs in a temporary folder, where `--import tsx` would not resolve.
const tsx = import.meta.resolve('tsx')

test('SIGINT stops the running command with its process group, records where the run stopped, and exits 130', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-sigint-'))
  try {
    await writeConfigFile(dir, ['denyattach'])
    const pidFile = path.join(dir, 'sleep.pid')
    const child = spawn(process.execPath, ['--import', tsx, fakeCli, 'run', 'slow', '--renderer', 'simple'], {
      cwd: dir,
      env: { ...process.env, KSPAWN_TEST_PID_FILE: pidFile, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    const exited = once(child, 'exit')

    const pid = await Promise.race([waitForFile(pidFile), exited.then(() => Promise.reject(new Error(`kspawn exited early:\n${stdout}`)))])
    const group = await processGroupOf(Number(pid))
    // As a terminal does: the signal goes to kspawn's process group, not to the commands' own groups.
    child.kill('SIGINT')
    const [code] = (await exited) as [number | null]

    assert.is(code, 130, stdout)
    assert.equal(await livingMembers(group), [], 'nothing of the build is left')
    const [run] = await readdir(path.join(dir, '.kspawn', 'runs'))
    const state = JSON.parse(await readFile(path.join(dir, '.kspawn', 'runs', run ?? '', 'state.json'), 'utf8')) as RunRecord
    assert.is(state.interruptedBy, 'SIGINT')
    assert.equal(
      state.variants[0]?.tasks.map((task) => `${task.id}:${task.status}`),
      ['fetch-source:done', 'build:interrupted', 'image:not-run'],
    )
    assert.match(stdout, /slow was interrupted by SIGINT\n  ■ denyattach stopped during build \(done: fetch-source; not run: image\)\n/)
    assert.match(stdout, /To continue where it stopped: kspawn run slow --resume\n/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
