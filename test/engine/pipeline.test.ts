// The pipeline with fake tasks: the order of tasks in a variant, variants side
// by side, a failure that stops its own variant only, skip reasons, rollback,
// and what the plain renderer prints.
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { StepError } from '../../engine/errors.ts'
import { createEventHub, type KspawnEvent } from '../../engine/run/events.ts'
import { buildPipeline } from '../../engine/run/pipeline.ts'
import { createRunner } from '../../engine/runner/runner.ts'
import type { RunInfo, Services, Task } from '../../engine/run/task.ts'
import type { RendererName } from '../../engine/terminal.ts'
import { initialVariantState } from '../../engine/run/variant-state.ts'
import { capture, fakeTask, tempProject } from './workflow-helpers.ts'

interface Setup {
  tasks: Task[]
  variants?: string[]
  concurrency?: number
  renderer?: RendererName
}

async function runPipeline({ tasks, variants, concurrency = 2, renderer = 'silent', stdout = capture() }: Setup & { stdout?: ReturnType<typeof capture> & { rows?: number; columns?: number } }) {
  const project = await tempProject(variants)
  try {
    const hub = createEventHub()
    const events: KspawnEvent[] = []
    hub.on((event) => events.push(event))
    const run: RunInfo = { id: 'test', dir: project.dir, dryRun: false, recreate: false }
    const services: Services = {
      runner: createRunner({ runDir: project.dir, dryRun: false, emit: hub.emit }),
      emit: hub.emit,
      isRoot: false,
      signal: new AbortController().signal,
    }
    const pipeline = buildPipeline({
      variants: project.config.variants.map((variant) => ({
        ctx: { config: project.config, variant, state: initialVariantState(project.config, variant), run },
        tasks,
      })),
      services,
      concurrency,
      renderer,
      stdout,
      stderr: stdout,
      color: false,
      events: hub,
    })
    await pipeline.run()
    return { events, output: stdout.text() }
  } finally {
    await project.cleanup()
  }
}

const steps = (events: KspawnEvent[], variant: string) =>
  events.filter((event) => event.kind.startsWith('step-') && 'variant' in event && event.variant === variant).map((event) => `${event.kind} ${'step' in event ? event.step : ''}`)

test('each variant runs the tasks in order, and variants run side by side', async () => {
  let running = 0
  let most = 0
  const work = fakeTask('work', {
    run: async () => {
      running++
      most = Math.max(most, running)
      await sleep(150)
      running--
    },
  })
  const { events } = await runPipeline({ tasks: [fakeTask('fetch'), work, fakeTask('check')] })

  for (const variant of ['denyattach', 'denyattachfix']) {
    assert.equal(steps(events, variant), ['step-start fetch', 'step-done fetch', 'step-start work', 'step-done work', 'step-start check', 'step-done check'])
  }
  assert.is(most, 2, 'both variants were in the work task at once')
})

test('concurrency 1 runs one variant after the other', async () => {
  const order: string[] = []
  const record = (id: string) =>
    fakeTask(id, {
      run: async (ctx) => {
        order.push(`${ctx.variant.name} ${id}`)
        await sleep(20)
      },
    })
  await runPipeline({ tasks: [record('fetch'), record('build')], concurrency: 1 })
  assert.equal(order, ['denyattach fetch', 'denyattach build', 'denyattachfix fetch', 'denyattachfix build'])
})

test('a failing task stops its own variant, and the other variants go on', async () => {
  const later: string[] = []
  const build = fakeTask('build', {
    run: async (ctx) => {
      if (ctx.variant.name === 'denyattach') throw new StepError('build (denyattach) failed: build/run.sh make exited with code 2')
      await sleep(50)
    },
  })
  const image = fakeTask('image', { run: async (ctx) => void later.push(ctx.variant.name) })
  const { events } = await runPipeline({ tasks: [fakeTask('fetch'), build, image] })

  assert.equal(steps(events, 'denyattach'), ['step-start fetch', 'step-done fetch', 'step-start build', 'step-failed build'])
  assert.equal(steps(events, 'denyattachfix'), ['step-start fetch', 'step-done fetch', 'step-start build', 'step-done build', 'step-start image', 'step-done image'])
  assert.equal(later, ['denyattachfix'], 'the task after the failure did not run for denyattach')
  const failed = events.find((event) => event.kind === 'step-failed')
  assert.is(failed?.kind === 'step-failed' && failed.message, 'build (denyattach) failed: build/run.sh make exited with code 2')
})

test('a skipped task says why, in the events and in the plain output', async () => {
  const image = fakeTask('image', { skip: async (ctx) => (ctx.variant.image ? 'image variant: nothing to build' : false) })
  const { events, output } = await runPipeline({ tasks: [image], variants: ['denyattach'], renderer: 'simple' })

  assert.equal(
    events.filter((event) => event.kind === 'step-skip'),
    [{ kind: 'step-skip', step: 'image', variant: 'denyattach', reason: 'image variant: nothing to build' }],
  )
  assert.match(output, /Image v1\.8\.5-beta\.0-denyattach \(denyattach\) \[SKIPPED: image variant: nothing to build\]/)
})

test('rollback runs when its task fails, and the failure stays the reason', async () => {
  const calls: string[] = []
  const clusterUp = fakeTask('cluster-up', {
    run: async () => {
      calls.push('run')
      throw new StepError('cluster-up (denyattach) failed: kube-spawn start -c denyattach exited with code 1')
    },
    rollback: async (ctx) => void calls.push(`rollback ${ctx.variant.name}`),
  })
  const { events } = await runPipeline({ tasks: [clusterUp, fakeTask('smoke-test')], variants: ['denyattach'] })

  assert.equal(calls, ['run', 'rollback denyattach'])
  assert.equal(steps(events, 'denyattach'), ['step-start cluster-up', 'step-failed cluster-up'])
  assert.ok(events.some((event) => event.kind === 'info' && event.message === 'rolling back after the failure'))
})

test('a rollback with nothing left to undo neither runs nor says it does, and the list draws no rollback', async () => {
  const calls: string[] = []
  const clusterUp: Task = {
    ...fakeTask('cluster-up', {
      run: async () => {
        throw new StepError('cluster web already exists: kspawn does not replace a cluster unless asked.')
      },
      rollback: async () => void calls.push('rollback'),
    }),
    leftBehind: () => false,
  }
  const { events, output } = await runPipeline({ tasks: [clusterUp], variants: ['denyattach'], renderer: 'simple' })
  assert.equal(calls, [])
  assert.not.ok(events.some((event) => event.kind === 'info' && /rolling back|removing what/.test(event.message)))
  assert.not.match(output, 'ROLLBACK')
})

test('a rollback that fails is a warning; the task failure is still what is reported', async () => {
  const clusterUp = fakeTask('cluster-up', {
    run: async () => {
      throw new StepError('cluster-up (denyattach) failed: kube-spawn start -c denyattach exited with code 1')
    },
    rollback: async () => {
      throw new StepError('kube-spawn destroy -c denyattach exited with code 1')
    },
  })
  const { events } = await runPipeline({ tasks: [clusterUp], variants: ['denyattach'] })

  const failed = events.find((event) => event.kind === 'step-failed')
  assert.is(failed?.kind === 'step-failed' && failed.message, 'cluster-up (denyattach) failed: kube-spawn start -c denyattach exited with code 1')
  const warning = events.find((event) => event.kind === 'warn')
  assert.is(
    warning?.kind === 'warn' && warning.message,
    'rollback failed, undo by hand what the step left: kube-spawn destroy -c denyattach exited with code 1',
  )
})

test('the plain renderer shows each command a step runs, labelled with its step and variant', async () => {
  const fetch = fakeTask('fetch', {
    run: async (ctx, services) => void (await services.runner.run({ argv: ['echo', 'fetched'] }, { id: 'fetch', variant: ctx.variant.name })),
  })
  const { output } = await runPipeline({ tasks: [fetch], variants: ['denyattach'], renderer: 'simple' })
  assert.match(output, /\[\d\d:\d\d:\d\d\] fetch \(denyattach\): \$ echo fetched\n/)
  assert.not.match(output, /: fetched\n/, 'the simple renderer does not repeat the output, which is in the log file')
})

test('the verbose renderer also shows the output lines', async () => {
  const fetch = fakeTask('fetch', {
    run: async (ctx, services) => void (await services.runner.run({ argv: ['echo', 'fetched'] }, { id: 'fetch', variant: ctx.variant.name })),
  })
  const { output } = await runPipeline({ tasks: [fetch], variants: ['denyattach'], renderer: 'verbose' })
  assert.match(output, /\[\d\d:\d\d:\d\d\] fetch \(denyattach\): fetched\n/)
})

/**
 * The animated list drawn as on a terminal of 80x24: listr2 draws it only
 * when process.stdout is a terminal, and cuts lines to its width. Each write
 * of log-update is one frame: the cursor moves that erase the last one, then
 * the new one.
 */
async function onTerminal(setup: Setup, seen: (frame: string) => boolean) {
  const saved = { isTTY: process.stdout.isTTY, columns: process.stdout.columns }
  Object.assign(process.stdout, { isTTY: true, columns: 80 })
  const stdout = Object.assign(capture(true), { rows: 24, columns: 80 })
  const frames: string[] = []
  let release = () => {}
  const released = new Promise<void>((resolve) => (release = resolve))
  const write = stdout.write.bind(stdout)
  stdout.write = (text: string) => {
    const frame = String(text).replace(/\x1b\[[\d;?]*[A-Za-z]/g, '')
    frames.push(frame)
    if (seen(frame)) release()
    return write(text)
  }
  // Not a timed assertion: a bound in case the awaited frame never comes, and the assertions after say why.
  const safety = setTimeout(release, 20_000)
  try {
    const result = await runPipeline({ ...setup, renderer: 'default', concurrency: 3, stdout, tasks: setup.tasks.map((task) => (task.id === 'build' ? waitingBuild(released) : task)) })
    return { ...result, frames }
  } finally {
    clearTimeout(safety)
    Object.assign(process.stdout, saved)
  }
}

/** A build that prints a line and runs until the test has seen what it waits for. */
function waitingBuild(released: Promise<void>): Task {
  return fakeTask('build', {
    run: async (ctx, services) => {
      services.emit({ kind: 'output', step: 'build', variant: ctx.variant.name, line: `compiling ${ctx.variant.name}` })
      await released
    },
  })
}

const devLoop = () => [
  fakeTask('fetch'),
  fakeTask('build'),
  fakeTask('image', { skip: async () => 'image variant: nothing to build' }),
  fakeTask('use-image'),
  fakeTask('cluster-up'),
  fakeTask('smoke-test'),
]

test('on a terminal, the running step shows the time it has taken, and a normal skip is a dim arrow, not a warning', async () => {
  const elapsed = /Build v1\.8\.5-beta\.0-denyattach \[\d+\.\ds\]/
  const { frames, output } = await onTerminal({ tasks: devLoop(), variants: ['denyattach'] }, (frame) => elapsed.test(frame))
  const running = frames.find((frame) => elapsed.test(frame))
  assert.ok(running, 'a frame shows the build with the time it has taken')
  assert.match(running!, /› compiling denyattach/, 'and its last output line below it')
  assert.match(output, /↓ Image v1\.8\.5-beta\.0-denyattach\n\s+↓ image variant: nothing to build/)
  assert.not.match(output, '⚠')
  // Done, the step shows listr2's own timer, and no longer the running one.
  assert.match(output, /✔ Build v1\.8\.5-beta\.0-denyattach \[\d+(\.\d)?s\]\n/)
})

test('on a terminal of 80x24, three variants each show their current step, its time and its last line', async () => {
  const variants = ['denyattach', 'denyattachfix', 'third']
  const current = (frame: string) => variants.every((variant) => new RegExp(`^\\S+ ${variant} › Build v1\\.8\\.5-beta\\.0-${variant} \\[\\d+\\.\\ds\\]$`, 'm').test(frame))
  const { frames, output } = await onTerminal({ tasks: devLoop(), variants }, current)
  const frame = frames.find(current)
  assert.ok(frame, `a frame shows every variant's current step and time; the last frames:\n${frames.slice(-3).join('\n----\n')}`)
  assert.ok(frame!.trimEnd().split('\n').length <= 24)
  for (const variant of variants) assert.match(frame!, `› compiling ${variant}`)
  assert.match(output, /✔ denyattach \[/)
})

test.run()
