// Command lines that kspawn answers without yargs, because people (and shell
// completion) type them often and loading yargs costs more than the answer:
// a help (`kspawn --help`, `kspawn run -h`) at the usual 100 columns, printed
// from cli/help-text.ts, `kspawn list` with at most a --config and a --json,
// and the completions a Tab asks for (cli/complete.ts). Anything
// else, even one character off, goes through yargs (cli/main.ts); the tests
// check that both give the same output and exit status (test/bin/shortcut.test.ts).
import { COMMANDS, isCommand } from './usage.ts'

/** The helps cli/help-text.ts holds: each command's, and kspawn's own (''). */
export const HELP_TOPICS = ['', ...COMMANDS] as const

/** The width yargs wraps help to: that of the terminal, at most 100 columns (all of them when not a terminal). */
export function helpWidth(columns: number | undefined): number {
  return Math.min(100, columns ?? 100)
}

export type HelpTopic = (typeof HELP_TOPICS)[number]

export type Shortcut = { help: HelpTopic } | { list: { config?: string; json?: true } } | { complete: string[] }

/** The shortcut for this command line, or undefined when yargs must parse it. */
export function shortcutFor(argv: readonly string[], columns: number | undefined): Shortcut | undefined {
  // A Tab in a shell that sourced `kspawn completion`: --get-yargs-completions kspawn <words...> (cli/complete.ts).
  if (argv[0] === '--get-yargs-completions') return { complete: argv.slice(2) }
  // --help, -h, <command> --help, <command> -h; help-text.ts holds them at 100 columns.
  if (helpWidth(columns) === 100 && (argv.length === 1 || argv.length === 2)) {
    const topic = argv.length === 1 ? '' : argv[0]
    const flag = argv.at(-1)
    if ((flag === '--help' || flag === '-h') && isHelpTopic(topic)) return { help: topic }
  }
  // list, list --config <file>, list --config=<file>, and --config before list, each with or without one --json: what yargs hands list's handler as it is.
  let config: string | undefined
  let list = false
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === 'list' && !list) list = true
    else if (arg === '--json' && !json && list) json = true
    else if (arg === '--config' && config === undefined && isValue(argv[i + 1])) config = argv[++i]
    else if (arg.startsWith('--config=') && config === undefined && isValue(arg.slice('--config='.length))) config = arg.slice('--config='.length)
    else return undefined
  }
  if (!list) return undefined
  return { list: { ...(config === undefined ? {} : { config }), ...(json ? { json } : {}) } }
}

export function isHelpTopic(value: string | undefined): value is HelpTopic {
  return value === '' || (value !== undefined && isCommand(value))
}

/** A value that yargs hands over as it is (--config is a string option): not empty, and not taken for an option. */
function isValue(value: string | undefined): value is string {
  return value !== undefined && value !== '' && !value.startsWith('-')
}
