import type { Redactor } from './redact.ts'

// Splits a stream of text into redacted text for the log file and the last
// few lines for the live view, without holding more than one line in memory.
// Work is per chunk, not per line, so a command printing millions of short
// lines costs little more than copying them.

export interface LineSink {
  /** redacted text, in order, exactly as the command printed it */
  text(text: string): void
  /** the last lines of what `text` just received, for tails and events */
  lines(lines: string[]): void
}

export class LineSplitter {
  private pending = ''

  /**
   * @param keep how many lines per chunk reach `sink.lines`
   * @param maxLine a line without an end is passed on in pieces of about this size
   */
  constructor(
    private readonly redactor: Redactor,
    private readonly sink: LineSink,
    private readonly keep: number,
    private readonly maxLine = 64 * 1024,
  ) {}

  push(chunk: string): void {
    let text = this.pending + chunk
    const end = text.lastIndexOf('\n')
    if (end >= 0) {
      this.pass(text.slice(0, end + 1))
      text = text.slice(end + 1)
    }
    if (text.length > this.maxLine + this.redactor.holdBack) {
      const cut = this.redactor.safeCut(text, text.length - this.redactor.holdBack)
      this.pass(text.slice(0, cut))
      text = text.slice(cut)
    }
    this.pending = text
  }

  /** Passes on a last line that has no newline. */
  end(): void {
    if (this.pending) this.pass(this.pending)
    this.pending = ''
  }

  private pass(raw: string): void {
    const text = this.redactor.redact(raw)
    this.sink.text(text)
    this.sink.lines(lastLines(text, this.keep).map(displayLine))
  }
}

function lastLines(text: string, count: number): string[] {
  const lines: string[] = []
  let end = text.endsWith('\n') ? text.length - 1 : text.length
  while (lines.length < count) {
    const start = end > 0 ? text.lastIndexOf('\n', end - 1) : -1
    lines.unshift(text.slice(start + 1, end))
    if (start < 0) break
    end = start
  }
  return lines
}

/** What a terminal would show of a line redrawn with carriage returns (progress bars). */
export function displayLine(line: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line
  return trimmed.slice(trimmed.lastIndexOf('\r') + 1)
}
