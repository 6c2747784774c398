// kind's errors: github.com/pkg/errors wraps, printed as "outer: inner:
// innermost", and exec's RunError, whose captured output kind prints after
// the error line ("Command Output: ...").

/** A command that failed: `command "<shell-quoted argv>" failed with error: <inner>`, with what it printed. */
export class RunError extends Error {
  constructor(
    readonly command: string[],
    readonly output: string,
    readonly inner: string,
  ) {
    super(`command "${prettyCommand(command)}" failed with error: ${inner}`)
  }
}

/** errors.Wrap: the message prefixed, the cause kept (kind looks for a RunError in the chain). */
export function wrap(error: unknown, message: string): Error {
  const inner = error instanceof Error ? error : new Error(String(error))
  return new Error(`${message}: ${inner.message}`, { cause: inner })
}

/** exec.RunErrorForError: the RunError in the chain, if any. */
export function runErrorOf(error: unknown): RunError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e instanceof RunError) return e
  }
  return undefined
}

/** errors.NewAggregate: one error as it is, several as [a, b]. */
export function aggregate(messages: string[]): Error | undefined {
  if (messages.length === 0) return undefined
  return new Error(messages.length === 1 ? messages[0] : `[${messages.join(', ')}]`)
}

/** shellescape.Quote (al.essio.dev/pkg/shellescape). */
export function shellQuote(s: string): string {
  if (s === '') return "''"
  if (!/[^\w@%+=:,./-]/.test(s)) return s
  return `'${s.replaceAll("'", `'"'"'`)}'`
}

/** exec.PrettyCommand: every part shell-quoted, joined by spaces. */
export function prettyCommand(argv: string[]): string {
  return argv.map(shellQuote).join(' ')
}

/** Go's %q of a string. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, '\\x$1')
}

/** Go's %q of a []string (or of Stringers): ["a" "b"]. */
export function goQuoteList(items: string[]): string {
  return `[${items.map(goQuote).join(' ')}]`
}
