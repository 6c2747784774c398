// The one module that knows listr2: it turns a workflow and its variants into
// a task list, and shows the run's events in it. Variants run side by side,
// each a sequence of the workflow's tasks; a failing task stops its own
// variant and no other.
import {
  figures,
  Listr,
  ListrDefaultRendererLogLevels,
  ListrLogger,
  ListrLogLevels,
  ListrRendererSelection,
  PRESET_TIMER,
  PRESET_TIMESTAMP,
  ProcessOutput,
  type ListrTask,
  type ListrRendererValue,
} from 'listr2'
import { formatDuration, stepLabel, type EventHub, type EventSource, type KspawnEvent } from './events.ts'
import { describeError, rollBackStep, runStep, stepSource, type StepContext } from './lifecycle.ts'
import type { Services, Task, TaskContext } from './task.ts'
import { createStyle, withoutColor, type Output, type RendererName } from '../terminal.ts'

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
  /**
   * Plain output (simple, verbose): while a step runs, a line every this many
   * milliseconds with the step, its variant, how long it has run and its
   * latest output line, so that a silent build still shows it is alive (CI
   * jobs are killed after minutes without output). 0 prints none;
   * PROGRESS_INTERVAL_MS when absent.
   */
  progressInterval?: number
}

/** How often plain output says that a step is still running, by default. */
export const PROGRESS_INTERVAL_MS = 30_000

/** How often the animated list updates the time a running step has taken. */
const ELAPSED_EVERY_MS = 1000

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

/** A running step, as the pipeline shows it: where its live output line goes, and the latest one. */
interface LiveStep {
  show(line: string): void
  latest?: string
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
  const running = new Map<string, LiveStep>()
  const dim = createStyle(true).dim
  const progressInterval = options.progressInterval ?? PROGRESS_INTERVAL_MS
  // The animated list shows each running variant with all its steps and an output line. When that is taller
  // than the terminal, log-update cuts the top of it off, and the first variants' current steps with it: so
  // each variant is then one line, its current step and the time it has taken, and its output line below.
  const rows = options.stdout.rows ?? 24
  const compact = options.renderer === 'default' && options.variants.length >= 2 && options.variants.reduce((sum, run) => sum + run.tasks.length + 2, 0) > rows - 2
  // The animated list redraws itself, so the dry-run commands are printed below it once it is done, ready to copy.
  const printLater: string[] = []
  const key = (source: Partial<EventSource>) => `${source.variant ?? ''}\0${source.step ?? ''}`

  const show = (event: KspawnEvent): void => {
    switch (event.kind) {
      case 'cmd': {
        const line = `$ ${event.commandLine}`
        const live = running.get(key(event))
        if (live && !event.dryRun) live.latest = line
        if (renderer === 'default' && live) live.show(line)
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
        if (live) live.latest = event.line
        if (renderer === 'default' && live) live.show(event.line)
        else if (renderer === 'verbose') logger.log(ListrLogLevels.OUTPUT, `${stepLabel(event)}: ${event.line}`)
        break
      }
      case 'info': {
        const live = running.get(key(event))
        if (renderer === 'default' && live) live.show(event.message)
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

  /** Plain output: a line every progressInterval while the step runs; nothing for a step that ends sooner. */
  function heartbeat(source: EventSource, live: LiveStep, startedAt: number): (() => void) | undefined {
    if (!plain() || progressInterval <= 0) return undefined
    const timer = setInterval(() => {
      const latest = live.latest === undefined ? 'no output yet' : `last output: ${live.latest}`
      logger.log(ListrLogLevels.OUTPUT, `${stepLabel(source)}: still running after ${formatDuration(Date.now() - startedAt)}; ${latest}`)
    }, progressInterval)
    return () => clearInterval(timer)
  }

  /** The animated list: the time the step has taken after its title (or its variant's, when compact), updated as it runs. */
  function elapsedTitle(wrapper: { title: string }, title: string, startedAt: number): (() => void) | undefined {
    if (renderer !== 'default') return undefined
    wrapper.title = title
    const timer = setInterval(() => {
      wrapper.title = `${title} ${dim(`[${formatDuration(Math.floor((Date.now() - startedAt) / 1000) * 1000)}]`)}`
    }, ELAPSED_EVERY_MS)
    return () => {
      clearInterval(timer)
      wrapper.title = title
    }
  }

  function step(task: Task, run: VariantRun, variant: { title: string; output: string }): ListrTask<Ctx> {
    const { ctx } = run
    const step: StepContext = { task, run, services, emit: events.emit }
    const source = stepSource(step)
    const title = task.title(ctx)
    const shownTitle = plain() ? `${title} (${ctx.variant.name})` : title
    let started = false
    return {
      title: shownTitle,
      task: async (_, wrapper) => {
        const stops: ((() => void) | undefined)[] = []
        try {
          const skipped = await runStep(step, () => {
            started = true
            const startedAt = Date.now()
            const live: LiveStep = {
              show: (line) => {
                if (compact) variant.output = line
                else wrapper.output = line
              },
            }
            running.set(key(source), live)
            stops.push(heartbeat(source, live, startedAt))
            stops.push(compact ? elapsedTitle(variant, `${ctx.variant.name} ${figures.pointerSmall} ${title}`, startedAt) : elapsedTitle(wrapper, shownTitle, startedAt))
          })
          for (const stop of stops.splice(0)) stop?.()
          if (compact) variant.title = ctx.variant.name
          if (skipped && plain()) {
            // listr2 draws a skip in yellow, as a warning; a step with nothing to do is normal, and is drawn dim.
            logger.log(ListrLogLevels.SKIPPED, `${shownTitle} ${dim(`[SKIPPED: ${skipped}]`)}`)
            wrapper.skip()
          } else if (skipped) wrapper.skip(skipped)
        } catch (error) {
          // Undone while the step still shows as running, with what it does; nothing is drawn as rolled back when nothing was.
          if (started) await rollBackStep(step, error)
          // The list shows the first line; the summary shows all of it.
          throw new Error(describeError(error).split('\n')[0])
        } finally {
          for (const stop of stops) stop?.()
          if (compact) variant.title = ctx.variant.name
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
        run.tasks.map((task) => step(task, run, wrapper)),
        { concurrent: false, exitOnError: true },
      )
    },
  }))

  // A skip is normal (an image variant has nothing to build): a dim ↓, not a yellow warning.
  const plainOptions = { logger, timestamp: PRESET_TIMESTAMP, timer: PRESET_TIMER, color: { [ListrLogLevels.SKIPPED]: dim } }
  const listr = new Listr<Ctx, ListrRendererValue, ListrRendererValue>(variants, {
    concurrent: Math.max(1, options.concurrency),
    // One variant failing leaves the others running.
    exitOnError: false,
    // kspawn handles Ctrl-C itself: it stops the commands and records where the run stopped.
    registerSignalListeners: false,
    ...rendererSelection(renderer, logger, plainOptions, compact, dim),
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

function rendererSelection(renderer: RendererName, logger: ListrLogger<ListrLogLevels>, plainOptions: object, compact: boolean, dim: (text: string) => string) {
  const fallback = { fallbackRenderer: 'simple', fallbackRendererOptions: plainOptions } as const
  switch (renderer) {
    case 'default':
      return {
        renderer: 'default',
        rendererOptions: {
          logger,
          timer: PRESET_TIMER,
          collapseSubtasks: false,
          collapseSkips: false,
          collapseErrors: false,
          // Compact: a variant is one line and its output line (see buildPipeline); its failure is shown below it.
          ...(compact ? { showSubtasks: false } : {}),
          // One terminal row a line: a long output line is cut, not wrapped, so that the list keeps its height.
          formatOutput: 'truncate',
          icon: { [ListrDefaultRendererLogLevels.SKIPPED_WITHOUT_COLLAPSE]: figures.arrowDown },
          color: { [ListrDefaultRendererLogLevels.SKIPPED_WITHOUT_COLLAPSE]: dim, [ListrDefaultRendererLogLevels.SKIPPED_WITH_COLLAPSE]: dim },
        },
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
