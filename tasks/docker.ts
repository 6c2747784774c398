// What every backend's steps ask the Docker engine: whether it has an image,
// and tagging one under another name.
import { access } from 'node:fs/promises'
import { StepError } from '../engine/errors.ts'
import type { StepIO } from '../engine/plugin.ts'
import type { Services, TaskContext } from '../engine/run/task.ts'
import { openStep } from '../engine/run/step-io.ts'

export function imageInspectArgv(image: string): string[] {
  return ['docker', 'image', 'inspect', '--format', '{{.Id}}', image]
}

/** The id of an image in the Docker engine, or undefined when the engine has no such image. */
export async function localImageId(image: string, step: StepIO): Promise<string | undefined> {
  const result = await step.run({ argv: imageInspectArgv(image), reads: true, capture: true, okExitCodes: [0, 1] })
  if (result.exitCode === 0) return result.stdout?.trim()
  if (result.tail.some((line) => /no such image/i.test(line))) return undefined
  // Exit 1 for another reason: most likely the engine cannot be reached.
  const where = process.env.DOCKER_HOST ? ` (DOCKER_HOST=${process.env.DOCKER_HOST})` : ''
  throw new StepError([`cannot ask the Docker engine${where} for the image ${image}: ${result.commandLine} exited with code 1`, ...result.tail.slice(-5).map((line) => `    ${line}`)].join('\n'))
}

export function tagArgv(source: string, target: string): string[] {
  return ['docker', 'tag', source, target]
}

/** Whether a file or folder exists. */
export function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}

/** Task.stillDone of a step that makes the variant's image: undefined while the engine still has it. */
export async function imageStillThere(id: string, ctx: TaskContext, services: Services): Promise<string | undefined> {
  const image = ctx.state.image ?? ctx.variant.deployer.image(ctx.variant)
  const found = await localImageId(image, openStep(id, ctx, services))
  return found === undefined ? `the Docker engine no longer has the image ${image}` : undefined
}
