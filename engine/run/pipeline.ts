// The one module that knows listr2: it turns a workflow and its variants into
// a task list, and shows the run's events in it. Variants run side by side,
// each a sequence of the workflow's tasks; a failing task stops its own
// variant and no other.
import {
  Listr,
  ListrLogger,
  ListrLogLevels,
  ListrRendererSelection,
  PRESET_TIMER,
  PRESET_TIMESTAMP,
  ProcessOutput,
  type ListrTask,
  type ListrRendererValue,
} from 'listr2'
import { stepLabel, type EventHub, type EventSource, type KspawnEvent } from './events.ts'
import { describeError, rollBackStep, runStep, stepSource, type StepContext } from './lifecycle.ts'
import type { Services, Task, TaskContext } from './task.ts'
import { withoutColor, type Output, type RendererName } from '../terminal.ts'

export interface VariantRun {
  ctx: TaskContext
  /** The workflow's tasks for this variant, its deployer's steps included (tasksFor). */
  tasks: Task[]
  /**
   * Tasks an earlier run finished, by id, with that run's id: `--resume` skips
   * them, unless what one made is gone (Task.stillDone); from there on, every
   * task runs again.
   */
  done?: Map<string, string>
}

export interface PipelineOptions {
  /** In the order they are shown. */
  variants: VariantRun[]
  services: Services
  /** Variants running at once. */
  concurrency: number
  /** Already chosen (see chooseRenderer); `json` shows nothing here, its reader prints the events. */
  renderer: RendererName
  stdout: Output
  stderr: Output
  color: boolean
  /** Where the pipeline sends step events, and reads command events to show them. */
  events: EventHub
}

/** Built, not started: the caller runs it. */
export interface Pipeline {
  run(): Promise<unknown>
  /**
   * For a run that ends now, without waiting for the list to end (a second
   * Ctrl-C), and a caller that exits right after: the animated list lets go
   * of stdout and stderr, which it holds while it draws (what is written to
   * them meanwhile is kept back, and lost if the process exits first). What
   * it kept back is printed, below the list as last drawn, and the cursor is
   * shown again. Synchronous; nothing happens when the list is not drawing.
   */
  letGo(): void
}

type Ctx = Record<string, never>

/** What the pipeline needs of a running listr task: its live output line. */
interface LiveTask {
  output: string
}

export function buildPipeline(options: PipelineOptions): Pipeline {
  const { services, events } = options
  // Settled once the list is built: listr2 replaces the animated renderer with plain lines when process.stdout is not a terminal.
  let renderer = options.renderer
  const plain = () => renderer === 'simple' || renderer === 'verbose'
  const stdout = options.color ? options.stdout : withoutColor(options.stdout)
  const stderr = options.color ? options.stderr : withoutColor(options.stderr)
  const output = new HeldOutput(stdout as NodeJS.WriteStream, stderr as NodeJS.WriteStream)
  // Everything on stdout, failures included, so that a captured run reads in order.
  const logger = new ListrLogger<ListrLogLevels>({ useIcons: true, toStderr: [], processOutput: output })
  const running = new Map<string, LiveTask>()
  // The animated list redraws itself, so the dry-run commands are printed below it once it is done, ready to copy.
  const printLater: string[] = []
  const key = (source: Partial<EventSource>) => `${source.variant ?? ''}\0${source.step ?? ''}`

  const show = (event: KspawnEvent): void => {
    switch (event.kind) {
      case 'cmd': {
        const line = `$ ${event.commandLine}`
        const live = running.get(key(event))
        if (renderer === 'default' && live) live.output = line
        if (event.dryRun && renderer === 'default') {
          const label = `# ${stepLabel(event)}`
          if (printLater.findLast((earlier) => earlier.startsWith('# ')) !== label) printLater.push(label)
          printLater.push(line)
        } else if (event.dryRun) logger.process.toStdout(line)
        else if (plain()) logger.log(ListrLogLevels.OUTPUT, `${stepLabel(event)}: ${line}`)
        break
      }
      case 'output': {
        const live = running.get(key(event))
        if (renderer === 'default' && live) live.output = event.line
        else if (renderer === 'verbose') logger.log(ListrLogLevels.OUTPUT, `${stepLabel(event)}: ${event.line}`)
        break
      }
      case 'info': {
        const live = running.get(key(event))
        if (renderer === 'default' && live) live.output = event.message
        else if (plain()) logger.log(ListrLogLevels.OUTPUT, `${where(event)}${event.message}`)
        break
      }
      case 'warn':
        // The animated renderer holds this back and prints it below the list when it ends.
        logger.process.toStderr(`warning: ${where(event)}${event.message}`)
        break
    }
  }
  const unsubscribe = renderer === 'json' ? undefined : events.on(show)

  function step(task: Task, run: VariantRun): ListrTask<Ctx> {
    const { ctx } = run
    const step: StepContext = { task, run, services, emit: events.emit }
    const source = stepSource(step)
    const title = task.title(ctx)
    let started = false
    return {
      title: plain() ? `${title} (${ctx.variant.name})` : title,
      task: async (_, wrapper) => {
        try {
          const skipped = await runStep(step, () => {
            started = true
            running.set(key(source), wrapper)
          })
          if (skipped) wrapper.skip(skipped)
        } catch (error) {
          // Undone while the step still shows as running, with what it does; nothing is drawn as rolled back when nothing was.
          if (started) await rollBackStep(step, error)
          // The list shows the first line; the summary shows all of it.
          throw new Error(describeError(error).split('\n')[0])
        } finally {
          running.delete(key(source))
        }
      },
    }
  }

  const variants: ListrTask<Ctx>[] = options.variants.map((run) => ({
    title: run.ctx.variant.name,
    task: (_, wrapper) => {
      if (services.signal.aborted) return wrapper.skip('not started: the run was interrupted')
      return wrapper.newListr(
        run.tasks.map((task) => step(task, run)),
        { concurrent: false, exitOnError: true },
      )
    },
  }))

  const plainOptions = { logger, timestamp: PRESET_TIMESTAMP, timer: PRESET_TIMER }
  const listr = new Listr<Ctx, ListrRendererValue, ListrRendererValue>(variants, {
    concurrent: Math.max(1, options.concurrency),
    // One variant failing leaves the others running.
    exitOnError: false,
    // kspawn handles Ctrl-C itself: it stops the commands and records where the run stopped.
    registerSignalListeners: false,
    ...rendererSelection(renderer, logger, plainOptions),
  })
  if (listr.rendererSelection === ListrRendererSelection.SECONDARY) renderer = 'simple'
  return {
    async run() {
      try {
        await listr.run({})
        for (const line of printLater) logger.process.toStdout(line)
      } finally {
        unsubscribe?.()
      }
    },
    letGo() {
      if (output.held) output.release()
    },
  }
}

/**
 * listr2's ProcessOutput, which says whether it holds the streams: from the
 * animated list's first frame to its end, their write() puts text in a buffer
 * (process.stdout's and process.stderr's own write() when the run writes to
 * them in colour, withoutColor's wrappers' otherwise).
 */
class HeldOutput extends ProcessOutput {
  get held(): boolean {
    return this.active
  }
}

/** "build (denyattach): " before a message of a step; nothing before a message of the whole run. */
function where(source: Partial<EventSource>): string {
  return source.step ? `${stepLabel(source)}: ` : ''
}

function rendererSelection(renderer: RendererName, logger: ListrLogger<ListrLogLevels>, plainOptions: object) {
  const fallback = { fallbackRenderer: 'simple', fallbackRendererOptions: plainOptions } as const
  switch (renderer) {
    case 'default':
      return {
        renderer: 'default',
        rendererOptions: { logger, timer: PRESET_TIMER, collapseSubtasks: false, collapseSkips: false, collapseErrors: false },
        ...fallback,
      } as const
    case 'simple':
    case 'verbose':
      return { renderer, rendererOptions: plainOptions, ...fallback } as const
    case 'silent':
    case 'json':
      return { renderer: 'silent', silentRendererCondition: true } as const
  }
}
