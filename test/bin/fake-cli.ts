// kspawn's command line with a registry of fake tasks, for tests that need a
// real process: one that receives a real SIGINT. The `slow` workflow's build
// task runs `sleep` in a subshell and writes the sleep's pid to $KSPAWN_TEST_PID_FILE.
import { main } from '../../cli/main.ts'
import type { Task } from '../../engine/run/task.ts'
import { fakeTask } from '../engine/workflow-helpers.ts'

const build: Task = fakeTask('build', {
  run: async (ctx, services) => {
    const argv = ['sh', '-c', 'sleep 300 & echo $! > "$1"; wait', 'build', process.env.KSPAWN_TEST_PID_FILE ?? '/dev/null']
    await services.runner.run({ argv }, { id: 'build', variant: ctx.variant.name })
  },
})
const tasks = [fakeTask('fetch-source'), build, fakeTask('image')]

process.exitCode = await main(process.argv.slice(2), {
  loadRegistry: async () => ({ workflows: [{ id: 'slow', description: 'a build that takes its time', tasks }], tasks }),
  // The fake tasks need nothing of this machine.
  machineProblems: async () => [],
})
