// Output events for a live view: at most `maxLines` lines per interval, the
// latest ones, so a command printing a million lines a second sends a few
// hundred events, and the last lines before the end are always sent.

export type Stream = 'stdout' | 'stderr'

export class OutputThrottle {
  private buffered: { stream: Stream | undefined; line: string }[] = []
  private lastFlush = -Infinity
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly send: (stream: Stream | undefined, line: string) => void,
    private readonly intervalMs: number,
    private readonly maxLines: number,
  ) {}

  /** `stream` is undefined for lines read back from a log file that has both. */
  push(stream: Stream | undefined, lines: string[]): void {
    for (const line of lines) this.buffered.push({ stream, line })
    if (this.buffered.length > this.maxLines) this.buffered.splice(0, this.buffered.length - this.maxLines)
    const wait = this.lastFlush + this.intervalMs - performance.now()
    if (wait <= 0) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), wait)
  }

  /** Sends what is buffered; call it once more when the command has ended. */
  flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.lastFlush = performance.now()
    const lines = this.buffered
    this.buffered = []
    for (const { stream, line } of lines) this.send(stream, line)
  }
}
