// `kspawn task <id> --variant <name>`: one task alone, for one variant. It
// starts from what the variant's latest run recorded (the worktree, the
// built version, the cluster's kubeconfig), so a step can be redone by hand.
import { UsageError } from '../engine/errors.ts'
import { selectVariants } from '../engine/run/run-workflow.ts'
import type { RendererName } from '../engine/terminal.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'
import { findTask } from './registry.ts'
import { runFromCli } from './run-from-cli.ts'

export interface TaskCommandOptions {
  task: string
  /** --config */
  config?: string
  /** Needed when the config has more than one variant. */
  variant?: string
  recreate?: boolean
  dryRun?: boolean
  renderer?: RendererName
}

/** Resolves to the exit status: 0 the task passed, 1 it failed, 130 interrupted. */
export async function taskCommand(options: TaskCommandOptions, deps: CliDeps): Promise<number> {
  const registry = await deps.loadRegistry()
  const config = await loadConfigFor(deps, options.config)
  const variants = config.variants.map((variant) => variant.name)
  const variant = options.variant ?? (variants.length === 1 ? variants[0] : undefined)
  if (variant === undefined) {
    throw new UsageError(`name the variant to run ${options.task} for with --variant: one of ${variants.join(', ')}`)
  }
  // kspawn's own tasks, and the steps of the variant's deployer (kube-spawn: build, image, use-image).
  const { deployer } = selectVariants(config, [variant])[0]!
  const own = await deployer.steps()
  const task = findTask({ ...registry, tasks: [...registry.tasks, ...own.filter((step) => !registry.tasks.some((task) => task.id === step.id))] }, options.task)
  const outcome = await runFromCli(
    {
      config,
      configFile: options.config,
      workflow: { id: `task-${task.id}`, description: task.description, tasks: [task] },
      variantNames: [variant],
      inheritState: true,
      recreate: options.recreate,
      dryRun: options.dryRun,
      renderer: options.renderer,
    },
    deps,
  )
  return outcome.exitCode
}
