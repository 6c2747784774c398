// Runs of a workflow of fake tasks that run real commands through the runner:
// the run folder and its records, the summary and exit status, dry-run,
// renderers, an interrupt in the middle of a command, and resuming.
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { UsageError } from '../../engine/errors.ts'
import type { KspawnEvent } from '../../engine/run/events.ts'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { runWorkflow, selectVariants, type RunWorkflowOptions } from '../../engine/run/run-workflow.ts'
import type { Config, Variant } from '../../engine/config/config.ts'
import type { Task, Workflow } from '../../engine/run/task.ts'
import { livingMembers, processGroupOf, waitForFile } from './runner-helpers.ts'
import { capture, fakeTask, tempProject, type TempProject } from './workflow-helpers.ts'

let project: TempProject
test.before.each(async () => {
  project = await tempProject()
})
test.after.each(async () => {
  await project.cleanup()
})

const loop = (...tasks: Task[]): Workflow => ({ id: 'dev-loop', description: 'the test loop', tasks })

async function run(workflow: Workflow, options: Partial<RunWorkflowOptions> = {}) {
  const stdout = capture()
  const outcome = await runWorkflow({ config: project.config, workflow, renderer: 'simple', stdout, stderr: stdout, env: {}, ...options })
  return { ...outcome, output: stdout.text() }
}

const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(file, 'utf8')) as T
const readEvents = async (dir: string): Promise<KspawnEvent[]> =>
  (await readFile(path.join(dir, 'events.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as KspawnEvent)

/** Runs `echo <text>` for the step, as a task would run its command. */
const echoing = (id: string, text: string) =>
  fakeTask(id, { run: async (ctx, services) => void (await services.runner.run({ argv: ['echo', text] }, { id, variant: ctx.variant.name })) })

test('a run keeps its events, its state and its logs in its own folder, and exits 0 when every variant passes', async () => {
  const smoke = fakeTask('smoke-test', {
    run: async (ctx) => {
      ctx.state.kubeconfig = `/var/lib/kube-spawn/${ctx.variant.cluster}/kubeconfig`
      ctx.state.smoke = [{ expectation: 'attach is denied', passed: true, observed: 'Error from server (Forbidden): cannot attach' }]
    },
  })
  const { exitCode, dir, output } = await run(loop(echoing('fetch-source', 'fetched'), smoke), {
    now: () => new Date('2017-11-26T15:17:33.000Z'),
  })

  assert.is(exitCode, 0)
  assert.is(dir, path.join(project.config.workdir, 'runs', '20171126T151733Z-dev-loop'))
  const runDir = dir as string
  assert.equal((await readdir(runDir)).sort(), ['denyattach', 'denyattachfix', 'events.jsonl', 'junit.xml', 'state.json'])
  assert.match(await readFile(path.join(runDir, 'denyattach', 'fetch-source.log'), 'utf8'), /^\$ echo fetched\n# cwd: .*\nfetched\n# exited with code 0/)

  const events = await readEvents(runDir)
  assert.is(events[0]?.kind, 'run-start')
  assert.is(events.at(-1)?.kind, 'run-end')
  assert.ok(events.every((event) => typeof (event as { time?: unknown }).time === 'string'), 'every line has its time')
  assert.is(events.filter((event) => event.kind === 'step-done').length, 4)

  const state = await readJson<RunRecord>(path.join(runDir, 'state.json'))
  assert.is(state.status, 'passed')
  assert.is(state.exitCode, 0)
  assert.equal(
    state.variants.map((variant) => [variant.name, variant.status, variant.tasks.map((task) => `${task.id}:${task.status}`)]),
    [
      ['denyattach', 'passed', ['fetch-source:done', 'smoke-test:done']],
      ['denyattachfix', 'passed', ['fetch-source:done', 'smoke-test:done']],
    ],
  )
  assert.is(state.variants[0]?.state.kubeconfig, '/var/lib/kube-spawn/denyattach/kubeconfig')

  assert.match(output, /dev-loop: 2 of 2 variants passed\n/)
  assert.match(output, /  ✔ denyattach passed\n      ✔ attach is denied\n        seen: Error from server \(Forbidden\): cannot attach\n      export KUBECONFIG=\/var\/lib\/kube-spawn\/denyattach\/kubeconfig\n/)
  assert.match(output, new RegExp(`Run folder: ${runDir}\n$`))
})

test('a failed step: exit 1, the summary names the step and what failed, and state.json what did not run', async () => {
  const build = fakeTask('build', {
    run: async (ctx, services) => {
      const argv = ctx.variant.name === 'denyattach' ? ['sh', '-c', 'echo "make: *** [all] Error 2" >&2; exit 2'] : ['true']
      await services.runner.run({ argv }, { id: 'build', variant: ctx.variant.name })
    },
  })
  const { exitCode, dir, output } = await run(loop(fakeTask('fetch-source'), build, fakeTask('image')))

  assert.is(exitCode, 1)
  const state = await readJson<RunRecord>(path.join(dir as string, 'state.json'))
  const [denyattach, denyattachfix] = state.variants
  assert.is(denyattach?.status, 'failed')
  assert.is(denyattach?.stoppedAt, 'build')
  assert.equal(denyattach?.tasks.map((task) => task.status), ['done', 'failed', 'not-run'])
  assert.is(denyattach?.tasks[1]?.logFile, path.join(dir as string, 'denyattach', 'build.log'))
  assert.is(denyattachfix?.status, 'passed')

  assert.match(output, /dev-loop: 1 of 2 variants passed, 1 failed\n/)
  assert.match(
    output,
    /  ✖ denyattach failed at build\n      build \(denyattach\) failed: sh -c .* exited with code 2\n        last lines:\n          make: \*\*\* \[all\] Error 2\n        full log: .*\/denyattach\/build\.log\n/,
  )
  assert.match(output, /  ✔ denyattachfix passed\n/)
})

test('dry-run prints each command on a line starting with "$ ", in order, runs none of them and writes nothing', async () => {
  const touched = path.join(project.dir, 'touched')
  const fetch = fakeTask('fetch-source', {
    run: async (ctx, services) => {
      await services.runner.run({ argv: ['git', 'fetch', 'kinvolk', `alban/${ctx.variant.tag}`] }, { id: 'fetch-source', variant: ctx.variant.name })
    },
  })
  const image = fakeTask('image', {
    run: async (ctx, services) => {
      await services.runner.run({ argv: ['touch', touched] }, { id: 'image', variant: ctx.variant.name })
      await services.runner.run({ argv: ['make', '-C', 'cluster/images/hyperkube', `VERSION=${ctx.variant.tag}`] }, { id: 'image', variant: ctx.variant.name })
    },
  })
  for (const renderer of ['simple', 'verbose', 'silent'] as const) {
    const { exitCode, dir, output } = await run(loop(fetch, image), { dryRun: true, renderer })

    assert.is(exitCode, 0)
    assert.is(dir, undefined)
    assert.equal(
      output.split('\n').filter((line) => line.startsWith('$ ')),
      [
        '$ git fetch kinvolk alban/v1.8.5-beta.0-denyattach',
        `$ touch ${touched}`,
        '$ make -C cluster/images/hyperkube VERSION=v1.8.5-beta.0-denyattach',
        '$ git fetch kinvolk alban/v1.8.5-beta.0-denyattachfix',
        `$ touch ${touched}`,
        '$ make -C cluster/images/hyperkube VERSION=v1.8.5-beta.0-denyattachfix',
      ],
      renderer,
    )
    assert.match(output, /dev-loop \(dry run\): 6 commands printed for 2 variants, none run\n/)
  }
  assert.not.ok(existsSync(touched), 'touch did not run')
  assert.not.ok(existsSync(project.config.workdir), 'no run folder, no state, no log')
})

test('the plain renderer writes a timestamp on each line it writes for a task', async () => {
  const { output } = await run(loop(echoing('fetch-source', 'fetched')), { renderer: 'simple' })
  const taskLines = output.split('\n').filter((line) => line.includes('fetch-source') || line.includes('Fetch-source'))
  assert.ok(taskLines.length >= 4)
  for (const line of taskLines) assert.match(line, /^\S+ \[\d\d:\d\d:\d\d\] /)
})

test('plain output says every interval that a step is still running, with its variant, elapsed time and last line; a shorter step gets no such line', async () => {
  const build = fakeTask('build', {
    run: async (ctx, services) =>
      void (await services.runner.run({ argv: ['sh', '-c', `echo compiling ${ctx.variant.name}; sleep 3.5`] }, { id: 'build', variant: ctx.variant.name })),
  })
  const { output, dir, exitCode } = await run(loop(echoing('fetch-source', 'fetched'), build), { progressInterval: 1 })
  assert.is(exitCode, 0)
  const events = await readEvents(dir as string)
  const heartbeats = output.split('\n').filter((line) => line.includes('still running'))
  assert.not.ok(
    heartbeats.some((line) => line.includes('fetch-source')),
    'a step that ends before the interval has no progress line',
  )
  for (const variant of ['denyattach', 'denyattachfix']) {
    const lines = heartbeats.filter((line) => line.includes(`build (${variant}): `))
    const done = events.find((event) => event.kind === 'step-done' && event.step === 'build' && event.variant === variant)
    const durationMs = done?.kind === 'step-done' ? done.durationMs : 0
    assert.ok(lines.length >= 1, `${variant}: at least one progress line while the build ran`)
    assert.ok(lines.length <= Math.floor(durationMs / 1000) + 1, `${variant}: at most one a second: ${lines.length} in ${durationMs}ms`)
    for (const line of lines) assert.match(line, new RegExp(`\\[\\d\\d:\\d\\d:\\d\\d\\] build \\(${variant}\\): still running after \\d+\\.\\ds; (last output: |no output yet)`))
    assert.ok(
      lines.some((line) => line.endsWith(`last output: compiling ${variant}`)),
      `${variant}: a progress line shows the step's latest output line:\n${lines.join('\n')}`,
    )
  }
})

test('KSPAWN_PROGRESS_INTERVAL sets the interval of the progress lines, in seconds', async () => {
  const build = fakeTask('build', { run: async (ctx, services) => void (await services.runner.run({ argv: ['sleep', '1.5'] }, { id: 'build', variant: ctx.variant.name })) })
  const { output } = await run(loop(build), { variantNames: ['denyattach'], env: { KSPAWN_PROGRESS_INTERVAL: '1' } })
  assert.match(output, /build \(denyattach\): still running after \d+\.\ds; last output: \$ sleep 1\.5\n/)
  try {
    await run(loop(build), { env: { KSPAWN_PROGRESS_INTERVAL: 'soon' } })
    assert.unreachable('refused')
  } catch (error) {
    assert.instance(error, UsageError)
    assert.match((error as Error).message, 'KSPAWN_PROGRESS_INTERVAL must be a number of seconds')
  }
})

test('the json renderer prints the event stream, one parseable event a line, and no summary', async () => {
  const { output, exitCode } = await run(loop(echoing('fetch-source', 'fetched')), { renderer: 'json' })
  assert.is(exitCode, 0)
  const events = output
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as KspawnEvent & { time: string })
  assert.is(events[0]?.kind, 'run-start')
  const end = events.at(-1)
  assert.equal(end?.kind === 'run-end' && end.variants, [
    { name: 'denyattach', status: 'passed' },
    { name: 'denyattachfix', status: 'passed' },
  ])
  assert.ok(events.some((event) => event.kind === 'output' && event.line === 'fetched'))
  assert.ok(events.every((event) => !Number.isNaN(Date.parse(event.time))))
})

test('NO_COLOR leaves out colours that FORCE_COLOR would otherwise put in', async () => {
  const forced = await run(loop(fakeTask('fetch-source')), { env: { FORCE_COLOR: '1' } })
  assert.match(forced.output, /\x1b\[32m✔\x1b\[39m denyattach passed/)
  const plain = await run(loop(fakeTask('fetch-source')), { env: { FORCE_COLOR: '1', NO_COLOR: '1' } })
  assert.not.match(plain.output, /\x1b\[/)
})

test('a normal skip is drawn dim with an arrow, in colour too, not yellow like a warning', async () => {
  const image = fakeTask('image', { skip: async () => 'image variant: nothing to build' })
  const { output } = await run(loop(image), { variantNames: ['denyattach'], env: { FORCE_COLOR: '1' } })
  const skipped = output.split('\n').find((line) => line.includes('SKIPPED'))
  assert.ok(skipped)
  assert.match(skipped!, /\x1b\[2m↓\x1b\[22m .*Image v1\.8\.5-beta\.0-denyattach \(denyattach\) \x1b\[2m\[SKIPPED: image variant: nothing to build\]\x1b\[22m/)
  assert.not.match(skipped!, '\x1b[33m')
})

test('an unknown variant is a usage error that lists the variants', async () => {
  try {
    await run(loop(fakeTask('fetch-source')), { variantNames: ['denyatach'] })
    assert.unreachable('the run started')
  } catch (error) {
    assert.instance(error, UsageError)
    assert.is((error as Error).message, `unknown variant "denyatach": ${project.config.file} has the variants denyattach, denyattachfix`)
  }
})

test('an abort stops the running command with its process group, records where the run stopped, and exits 130', async () => {
  const pidFile = path.join(project.dir, 'sleep.pid')
  const build = fakeTask('build', {
    run: async (ctx, services) => {
      if (ctx.variant.name !== 'denyattach') return
      const argv = ['sh', '-c', 'sleep 300 & echo $! > "$1"; wait', 'build', pidFile]
      await services.runner.run({ argv }, { id: 'build', variant: ctx.variant.name })
    },
  })
  const controller = new AbortController()
  const running = run(loop(fakeTask('fetch-source'), build, fakeTask('image')), { signal: controller.signal, concurrency: 1 })
  const group = await processGroupOf(Number(await waitForFile(pidFile)))
  controller.abort('SIGINT')
  const { exitCode, dir, output } = await running

  assert.is(exitCode, 130)
  assert.equal(await livingMembers(group), [], 'no process of the command is left')
  const state = await readJson<RunRecord>(path.join(dir as string, 'state.json'))
  assert.is(state.status, 'interrupted')
  assert.is(state.interruptedBy, 'SIGINT')
  const [denyattach, denyattachfix] = state.variants
  assert.is(denyattach?.status, 'interrupted')
  assert.is(denyattach?.stoppedAt, 'build')
  assert.equal(denyattach?.tasks.map((task) => task.status), ['done', 'interrupted', 'not-run'])
  assert.match(denyattach?.tasks[1]?.message ?? '', /^build \(denyattach\) was interrupted by SIGINT while running: sh -c/)
  assert.is(denyattachfix?.status, 'interrupted', 'the variant that had not started is interrupted too')
  assert.equal(denyattachfix?.tasks.map((task) => task.status), ['not-run', 'not-run', 'not-run'])

  assert.match(output, /dev-loop was interrupted by SIGINT\n/)
  assert.match(output, /  ■ denyattach stopped during build \(done: fetch-source; not run: image\)\n      build \(denyattach\) was interrupted by SIGINT/)
  assert.match(output, /  ■ denyattachfix stopped before fetch-source \(not run: build, image\)\n/)
})

test('--resume skips the tasks that the latest run finished, and starts from the state it recorded', async () => {
  let fail = true
  const seen: string[] = []
  const fetch = fakeTask('fetch-source', {
    run: async (ctx) => {
      ctx.state.commit = `c117bd7-${ctx.variant.name}`
    },
  })
  const build = fakeTask('build', {
    run: async (ctx) => {
      seen.push(`build ${ctx.variant.name} at ${ctx.state.commit}`)
      if (fail && ctx.variant.name === 'denyattach') throw new Error('out of disk space')
    },
  })
  const first = await run(loop(fetch, build), { now: () => new Date('2017-11-26T15:00:00Z') })
  assert.is(first.exitCode, 1)

  fail = false
  seen.length = 0
  const second = await run(loop(fetch, build), { resume: true, now: () => new Date('2017-11-26T16:00:00Z') })
  assert.is(second.exitCode, 0)
  assert.equal(seen, ['build denyattach at c117bd7-denyattach'], 'only the failed build ran again, with the commit fetched before')
  assert.match(second.output, /Fetch-source v1\.8\.5-beta\.0-denyattach \(denyattach\) \[SKIPPED: done in run 20171126T150000Z-dev-loop\]/)

  const state = await readJson<RunRecord>(path.join(second.dir as string, 'state.json'))
  const [fetched, built] = state.variants[0]?.tasks ?? []
  assert.equal(fetched, { id: 'fetch-source', status: 'done', message: 'done in run 20171126T150000Z-dev-loop', doneIn: '20171126T150000Z-dev-loop' })
  // The build ran in this run: it has a duration of its own (a number of milliseconds), and nothing else.
  const { durationMs, ...rest } = built ?? {}
  assert.equal(rest, { id: 'build', status: 'done' })
  assert.type(durationMs, 'number')
  assert.ok(durationMs! >= 0 && Number.isInteger(durationMs), `durationMs: ${durationMs}`)
  assert.is(state.variants[0]?.tasks.length, 2)
})

test('--resume starts over a variant whose definition changed, saying what changed, and continues the others', async () => {
  const fetch = fakeTask('fetch-source', { run: async (ctx) => void (ctx.state.commit = `at ${ctx.variant.image?.ref}`) })
  const failing = fakeTask('build', {
    run: async () => {
      throw new Error('out of disk space')
    },
  })
  await run(loop(fetch, failing), { now: () => new Date('2017-11-26T15:00:00Z') })
  const [, fix] = project.config.variants
  const before = fix!.image!.ref
  const after = before.replace('denyattachfix', 'denyattachfix2')
  fix!.image = { ...fix!.image!, ref: after }

  const second = await run(loop(fetch, failing), { resume: true, now: () => new Date('2017-11-26T16:00:00Z') })
  assert.match(second.output, `warning: variant denyattachfix changed since run 20171126T150000Z-dev-loop (image was "${before}", now "${after}"): --resume starts it over\n`)
  const state = await readJson<RunRecord>(path.join(second.dir as string, 'state.json'))
  assert.equal(state.variants.map((variant) => [variant.name, variant.tasks[0]?.doneIn, variant.state.commit]), [
    ['denyattach', '20171126T150000Z-dev-loop', 'at docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattach'],
    ['denyattachfix', undefined, `at ${after}`],
  ])

  // kspawn task, which starts from the latest run's state, says the same of a variant changed since.
  fix!.tag = 'v1.8.5-beta.0-other'
  const task = await run({ id: 'task-build', description: 'build alone', tasks: [failing] }, { variantNames: ['denyattachfix'], inheritState: true })
  assert.match(task.output, `warning: variant denyattachfix changed since run 20171126T160000Z-dev-loop (tag was "v1.8.5-beta.0-denyattachfix", now "v1.8.5-beta.0-other"): nothing that run recorded is used\n`)
})

test('variants built from source start before image variants, which wait for their kubelet and kubeadm', () => {
  const build = (name: string) => ({ name, cluster: name, tag: name, smoke: [], build: { remote: '/r', ref: { branch: 'b' } } }) as unknown as Variant
  const image = (name: string) => ({ name, cluster: name, tag: name, smoke: [], image: { ref: 'r/i:t', repository: 'r/i', tag: 't' } }) as unknown as Variant
  const config = { file: 'kspawn.config.ts', variants: [image('fix'), build('deny'), image('other'), build('more')] } as unknown as Config
  assert.equal(selectVariants(config).map((variant) => variant.name), ['deny', 'more', 'fix', 'other'])
  assert.equal(selectVariants(config, ['other', 'deny']).map((variant) => variant.name), ['deny', 'other'])
})

test.run()
