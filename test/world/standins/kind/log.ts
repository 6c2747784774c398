// kind's logger and status lines: everything on stderr, one newline added
// when missing; -q silences it all (even the final ERROR line). Status lines
// are kind's non-TTY form (" • <step>  ..." then " ✓ <step>" or " ✗ <step>"):
// the stand-in draws no spinner, whatever stderr is.

export class Logger {
  constructor(
    readonly quiet: boolean,
    readonly verbosity: number,
  ) {}

  /** logger.V(0).Info / Warn / Error */
  info(message: string): void {
    if (this.quiet) return
    process.stderr.write(message.endsWith('\n') ? message : message + '\n')
  }

  /** logger.V(level).Info, with kind's "DEBUG: <dir/file.go>:<line>] " header above level 0. */
  debug(level: number, where: string, message: string): void {
    if (this.verbosity < level) return
    this.info(`DEBUG: ${where}] ${message}`)
  }
}

export class Status {
  private current: string | undefined

  constructor(private readonly logger: Logger) {}

  /** Ends the previous status as a success, then shows this one as under way. */
  start(status: string): void {
    this.end(true)
    this.current = status
    this.logger.info(` • ${status}  ...\n`)
  }

  /** Ends the current status, if any, as a success or a failure. */
  end(ok: boolean): void {
    if (this.current === undefined) return
    this.logger.info(` ${ok ? '✓' : '✗'} ${this.current}\n`)
    this.current = undefined
  }
}
