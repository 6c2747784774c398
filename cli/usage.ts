// What is wrong with a command line, gathered before anything runs so that
// one message names every problem: first what yargs finds as it parses (an
// unknown option, an option without its value, a value not among the
// choices), then what the command finds (a workflow, task or variant that is
// missing or unknown). yargs would stop at the first; kspawn's fail handler
// hands each of its findings here instead, and the command refuses the line
// with all of them (exit 2) before it runs or writes anything.
import { closest } from '../engine/closest.ts'
import { UsageError, type KspawnError } from '../engine/errors.ts'

/** kspawn's commands, as cli/main.ts defines them. */
export const COMMANDS = ['run', 'task', 'pr', 'logs', 'list', 'clusters', 'down', 'doctor', 'completion'] as const

const VALUE_EXAMPLES: Record<string, string> = { variant: 'denyattach', config: 'kspawn.config.ts', concurrency: '2', renderer: 'simple', 'progress-interval': '30', cluster: 'pr7-alban', tag: 'v1.8.5-pr7', remote: 'kinvolk', smoke: 'denyattach', junit: 'junit.xml' }

interface Problem {
  text: string
  /** A problem in how the line is typed: the message points at the command's --help. */
  help: boolean
}

export class UsageProblems {
  readonly #found: Problem[] = []
  /** The first word that is not an option or the value of --config: the command, if it is one of kspawn's. */
  readonly #command: string | undefined
  /** The option yargs last found without its value, until main takes it (see takeValueless). */
  #valueless: string | undefined

  readonly #argv: readonly string[]

  constructor(argv: readonly string[]) {
    this.#argv = argv
    this.#command = argv.find((arg, i) => !arg.startsWith('-') && argv[i - 1] !== '--config')
  }

  /** A problem in kspawn's words; one already found is not repeated. */
  add(text: string | undefined, { help = false } = {}): void {
    if (text === undefined || this.#found.some((problem) => problem.text === text)) return
    this.#found.push({ text, help })
  }

  /**
   * A problem as yargs words it, said in kspawn's words. `options` are the
   * options the command takes, to name them or guess the one a misspelt
   * option meant.
   */
  addFromYargs(message: string, options: readonly string[]): void {
    const command = this.#command
    if (command !== undefined && !isCommand(command)) {
      // Nothing else on the line can be judged without knowing the command.
      const guess = closest(command, COMMANDS)
      this.add(guess === undefined ? `unknown command "${command}": the commands are ${COMMANDS.join(', ')}` : `unknown command "${command}": did you mean ${guess}?`, { help: true })
      return
    }
    // A command's missing <positional> (yargs: "Not enough non-option arguments: got 0, need at least 1",
    // "Missing required argument: workflow"): each command names it itself, with what it may be.
    if (/^Not enough non-option arguments: |^Missing required arguments?: /.test(message)) return
    const missing = /^Not enough arguments following: (\S+)$/.exec(message)?.[1]
    if (missing !== undefined) {
      this.#valueless = missing
      this.add(`--${missing} needs a value, e.g. --${missing} ${VALUE_EXAMPLES[missing] ?? '<value>'}`, { help: true })
      return
    }
    const unknown = /^Unknown arguments?: (.*)$/.exec(message)?.[1]
    if (unknown !== undefined) {
      for (const problem of unknownArguments(unknown.split(', '), this.#argv, options, command)) this.add(problem, { help: true })
      return
    }
    if (message.startsWith('Invalid values:')) {
      // One line per option: `  Argument: renderer, Given: "fancy", Choices: "default", "simple", ...`
      for (const line of message.split('\n').slice(1)) {
        const [, option, given, choices] = /^\s*Argument: (\S+), Given: (.*), Choices: (.*)$/.exec(line) ?? []
        if (option === undefined) this.add(line.trim(), { help: true })
        else this.add(`--${option} must be one of ${choices!.replaceAll('"', '')}; found ${given}`, { help: true })
      }
      return
    }
    this.add(message, { help: true })
  }

  /**
   * The option last found without its value. yargs stops checking the line
   * there; main parses it again without that option, to find the rest.
   */
  takeValueless(): string | undefined {
    const option = this.#valueless
    this.#valueless = undefined
    return option
  }

  /**
   * Refuses the command line, naming every problem found, when there is one.
   * `unloaded` is why the config could not be loaded, which is then one more
   * (or, alone, thrown as it is).
   */
  check(unloaded?: KspawnError): void {
    if (unloaded !== undefined && this.#found.length === 0) throw unloaded
    if (unloaded !== undefined) this.add(`the config could not be loaded: ${unloaded.message}`)
    if (this.#found.length === 0) return
    const known = this.#command !== undefined && isCommand(this.#command)
    const seeHelp = this.#found.some((problem) => problem.help) ? [`See: kspawn ${known ? `${this.#command} ` : ''}--help`] : []
    if (this.#found.length === 1) throw new UsageError([this.#found[0]!.text, ...seeHelp].join('\n'))
    throw new UsageError(
      [`${this.#found.length} problems, so nothing was run:`, ...this.#found.map(({ text }) => `  - ${text.replaceAll('\n', '\n    ')}`), ...seeHelp].join('\n'),
    )
  }
}

/**
 * argv without the last `--option` (or `-option`) that has no value after
 * it: yargs names the option, not where it stands. Undefined when there is
 * none such.
 */
export function withoutValueless(argv: readonly string[], option: string): string[] | undefined {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length
  for (let i = end - 1; i >= 0; i--) {
    const next = argv[i + 1]
    if ((argv[i] === `--${option}` || argv[i] === `-${option}`) && (i + 1 >= end || /^-[^0-9]/.test(next!))) return argv.filter((_, j) => j !== i)
  }
  return undefined
}

/**
 * yargs' unknown arguments, each as it was typed (`--no-bogus` for the key
 * bogus, `-x` of `-xy`, or a word that is no option), with the options the
 * command takes or the one a misspelt option likely meant.
 */
function unknownArguments(keys: string[], argv: readonly string[], options: readonly string[], command: string | undefined): string[] {
  const typed = new Map<string, string>()
  for (const arg of argv) {
    if (arg === '--') break
    const long = /^--([^=]+)/.exec(arg)?.[1]
    if (long !== undefined) {
      const key = keys.includes(long) ? long : long.startsWith('no-') && keys.includes(long.slice(3)) ? long.slice(3) : undefined
      if (key !== undefined && !typed.has(key)) typed.set(key, `--${long}`)
    } else if (/^-[^-0-9]/.test(arg)) {
      for (const letter of arg.slice(1).split('=')[0]!) if (keys.includes(letter) && !typed.has(letter)) typed.set(letter, `-${letter}`)
    }
  }
  const problems: string[] = []
  const unguessed: string[] = []
  for (const key of keys) {
    const option = typed.get(key)
    if (option === undefined && argv.includes(key)) {
      problems.push(`unexpected argument "${key}"`)
      continue
    }
    // yargs also names the camelCase twin of a dashed option (bogusFlag for --bogus-flag).
    if (option === undefined && /[A-Z]/.test(key) && typed.size > 0) continue
    const guess = closest(key, options)
    if (guess === undefined) unguessed.push(option ?? shown(key))
    else problems.push(`unknown option ${option ?? shown(key)}: did you mean ${shown(guess)}?`)
  }
  if (unguessed.length > 0) {
    const takes = `${command === undefined ? 'kspawn' : `kspawn ${command}`} takes ${options.map(shown).join(', ')}`
    problems.push(`unknown option${unguessed.length === 1 ? '' : 's'} ${unguessed.join(', ')}: ${takes}`)
  }
  return problems
}

function shown(option: string): string {
  return option.length === 1 ? `-${option}` : `--${option}`
}

export function isCommand(word: string): word is (typeof COMMANDS)[number] {
  return COMMANDS.some((command) => command === word)
}
