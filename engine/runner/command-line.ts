// Display only: commands run from argv arrays and are never parsed back from
// these strings. The quoting is POSIX sh, so a printed line can be pasted into
// a terminal to run the same command by hand.

const SAFE = /^[\w@%+=:,./-]+$/
const CONTROL = /[\0-\x1f\x7f]/

export function quoteArg(arg: string): string {
  if (arg === '') return "''"
  if (SAFE.test(arg)) return arg
  // Single quotes would keep a newline or tab literally and break the one-line display.
  if (CONTROL.test(arg)) return `$'${arg.replace(/[\\']/g, '\\$&').replace(/[\0-\x1f\x7f]/g, escapeControl)}'`
  return `'${arg.replace(/'/g, `'\\''`)}'`
}

export function formatCommandLine(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ')
}

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

function escapeControl(char: string): string {
  return NAMED[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`
}
