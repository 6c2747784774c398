// `kspawn task <id> --variant <name>`: one task alone, for one variant. It
// starts from what the variant's latest run recorded (the worktree, the
// built version, the cluster's kubeconfig), so a step can be redone by hand.
import { unknownVariants } from '../engine/run/run-workflow.ts'
import type { Task } from '../engine/run/task.ts'
import type { RendererName } from '../engine/terminal.ts'
import { tryLoadConfigFor, type CliDeps } from './deps.ts'
import { taskProblem } from './registry.ts'
import { runFromCli } from './run-from-cli.ts'
import type { UsageProblems } from './usage.ts'

export interface TaskCommandOptions {
  /** Undefined when the command line names none, which is refused. */
  task: string | undefined
  /** --config */
  config?: string
  /** Needed when the config has more than one variant. Several (--variant given more than once) are refused. */
  variant?: string | string[]
  recreate?: boolean
  /** --no-cache: false */
  cache?: boolean
  dryRun?: boolean
  renderer?: RendererName
  /** --progress-interval, in seconds. */
  progressInterval?: number
  /** --junit, absolute. */
  junitFile?: string
}

/**
 * Resolves to the exit status: 0 the task passed, 1 it failed, 130
 * interrupted. The task and variant are checked first, and refused (exit 2)
 * with the problems the command line already has.
 */
export async function taskCommand(options: TaskCommandOptions, deps: CliDeps, problems: UsageProblems): Promise<number> {
  const registry = await deps.loadRegistry()
  const given = options.variant === undefined ? [] : [options.variant].flat()
  if (given.length > 1) {
    problems.add(`kspawn task runs a task for one variant: give --variant once, found ${given.join(', ')} (kspawn run <workflow> --variant ${given.join(' --variant ')} runs several)`, { help: true })
  }
  const { config, error } = await tryLoadConfigFor(deps, options.config)
  // kspawn's own tasks, and the steps of the variant's deployer (kube-spawn: build, image, use-image).
  const tasks = [...registry.tasks]
  let variant: string | undefined
  if (config) {
    const names = config.variants.map((known) => known.name)
    problems.add(unknownVariants(config, given))
    variant = given.length === 1 ? given[0] : given.length === 0 && names.length === 1 ? names[0] : undefined
    if (given.length === 0 && variant === undefined) {
      problems.add(`name the variant to run ${options.task ?? 'the task'} for with --variant: one of ${names.join(', ')}`)
    }
    // While the variant is not known, the task is looked for among the steps of each of the config's deployers.
    const chosen = config.variants.find((known) => known.name === variant)
    for (const deployer of new Set(chosen ? [chosen.deployer] : config.variants.map((known) => known.deployer))) {
      for (const step of await deployer.steps()) if (!tasks.some((task) => task.id === step.id)) tasks.push(step)
    }
    problems.add(taskProblem(tasks, options.task))
  } else if (options.task === undefined) {
    // Without the config its deployers' steps are unknown: kspawn's own tasks are named.
    problems.add(taskProblem(tasks, undefined))
  }
  problems.check(error)
  // Known from here: check() refused the line otherwise.
  const task: Task = tasks.find((known) => known.id === options.task)!
  const outcome = await runFromCli(
    {
      config: config!,
      configFile: options.config,
      workflow: { id: `task-${task.id}`, description: task.description, tasks: [task] },
      variantNames: [variant!],
      inheritState: true,
      recreate: options.recreate,
      cache: options.cache,
      dryRun: options.dryRun,
      renderer: options.renderer,
      progressInterval: options.progressInterval,
      junitFile: options.junitFile,
    },
    deps,
  )
  return outcome.exitCode
}
