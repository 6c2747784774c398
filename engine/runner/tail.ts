// The last lines of a command's output, kept in memory for error messages and
// results. Bounded by line count and bytes whatever the command prints.

/** Longest line kept; a longer one is cut and marked with an ellipsis. */
export const MAX_LINE_CHARS = 2000

export interface TailLimits {
  maxLines: number
  maxBytes: number
}

export class Tail {
  private readonly entries: { line: string; bytes: number }[] = []
  private bytes = 0

  constructor(private readonly limits: TailLimits) {}

  push(line: string): void {
    const clipped = clipLine(line)
    const bytes = Buffer.byteLength(clipped)
    this.entries.push({ line: clipped, bytes })
    this.bytes += bytes
    while (this.entries.length > this.limits.maxLines || (this.bytes > this.limits.maxBytes && this.entries.length > 1)) {
      this.bytes -= (this.entries.shift() as { bytes: number }).bytes
    }
  }

  lines(): string[] {
    return this.entries.map((entry) => entry.line)
  }
}

export function clipLine(line: string): string {
  return line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line
}
