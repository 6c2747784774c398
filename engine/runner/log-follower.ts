import { displayLine } from './lines.ts'
import type { LogFile } from './log-file.ts'

// The live lines and the tail of a command that writes straight into its log
// file, read back from the file: only its newest bytes, on a timer while the
// command runs and once when it has ended, so that the cost does not grow
// with what the command prints.

/** Bytes read back while the command runs: plenty for the few lines a live view shows. */
const LIVE_WINDOW = 64 * 1024

export interface FollowOptions {
  /** Where the command's output starts in the file. */
  start: number
  /** Bytes read back for the tail, once the command has ended. */
  tailWindow: number
  intervalMs: number
  /** How many of the newest lines of each read reach `lines`. */
  keep: number
  /** Lines not passed on before, oldest first, as a terminal would show them. */
  lines(lines: string[]): void
}

export class LogFollower {
  /** Offset just after the last line passed on. */
  private passed: number
  private reading: Promise<void> | undefined
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly log: LogFile,
    private readonly options: FollowOptions,
  ) {
    this.passed = options.start
    // The command keeps kspawn running; this timer alone should not.
    this.timer = setInterval(() => this.poll(), options.intervalMs).unref()
  }

  /** Passes on the lines left once the command has ended, and returns the last lines of all it printed. */
  async end(): Promise<string[]> {
    clearInterval(this.timer)
    await this.reading
    const { start } = this.options
    const read = await this.log.readEnd(start, this.options.tailWindow).catch(() => undefined)
    if (!read) return []
    const { position, bytes } = read
    this.pass(linesOf(bytes.subarray(Math.max(0, this.passed - position)), position > this.passed))
    return linesOf(bytes, position > start)
  }

  private poll(): void {
    if (this.reading) return
    this.reading = this.log
      .readEnd(this.passed, LIVE_WINDOW)
      .then(({ position, bytes }) => {
        // The last line may still be being written: it waits for its newline.
        const end = bytes.lastIndexOf(10) + 1
        if (end === 0) return
        this.pass(linesOf(bytes.subarray(0, end), position > this.passed))
        this.passed = position + end
      })
      // A failed read only costs the live view these lines; the log file has them.
      .catch(() => {})
      .finally(() => (this.reading = undefined))
  }

  private pass(lines: string[]): void {
    if (lines.length > 0) this.options.lines(lines.slice(-this.options.keep))
  }
}

/** Lines of bytes read back; when `cut`, the first began before them, and is dropped if whole lines follow. */
function linesOf(bytes: Buffer, cut: boolean): string[] {
  const lines = bytes.toString('utf8').split('\n')
  if (lines.at(-1) === '') lines.pop()
  if (cut && lines.length > 1) lines.shift()
  return lines.map(displayLine)
}
