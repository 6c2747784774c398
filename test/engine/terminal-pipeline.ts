// Run by terminal-pipeline.test.ts on a pseudo-terminal: the pipeline of fake
// dev-loop tasks for the variants named on the command line, drawn by the
// animated renderer on this process's stdout (the terminal). Each variant's
// build prints a line, then runs until the file named first exists.
//   node --import tsx test/engine/terminal-pipeline.ts <release file> <variant>...
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { createEventHub } from '../../engine/run/events.ts'
import { buildPipeline } from '../../engine/run/pipeline.ts'
import { createRunner } from '../../engine/runner/runner.ts'
import type { RunInfo, Services } from '../../engine/run/task.ts'
import { initialVariantState } from '../../engine/run/variant-state.ts'
import { fakeTask, tempProject } from './workflow-helpers.ts'

const [release, ...variants] = process.argv.slice(2)
if (!release || variants.length === 0) throw new Error('usage: terminal-pipeline.ts <release file> <variant>...')

const build = fakeTask('build', {
  run: async (ctx, services) => {
    services.emit({ kind: 'output', step: 'build', variant: ctx.variant.name, line: `compiling ${ctx.variant.name}` })
    while (!existsSync(release)) await sleep(100)
  },
})
const tasks = [
  fakeTask('fetch'),
  build,
  fakeTask('image', { skip: async () => 'image variant: nothing to build' }),
  fakeTask('use-image'),
  fakeTask('cluster-up'),
  fakeTask('smoke-test'),
]

const project = await tempProject(variants)
try {
  const hub = createEventHub()
  const run: RunInfo = { id: 'test', dir: project.dir, dryRun: false, recreate: false }
  const services: Services = {
    runner: createRunner({ runDir: project.dir, dryRun: false, emit: hub.emit }),
    emit: hub.emit,
    isRoot: false,
    signal: new AbortController().signal,
  }
  const pipeline = buildPipeline({
    variants: project.config.variants.map((variant) => ({ ctx: { config: project.config, variant, state: initialVariantState(project.config, variant), run }, tasks })),
    services,
    concurrency: variants.length,
    renderer: 'default',
    stdout: process.stdout,
    stderr: process.stderr,
    color: true,
    events: hub,
  })
  await pipeline.run()
} finally {
  await project.cleanup()
}
