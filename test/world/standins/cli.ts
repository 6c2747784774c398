// Command-line parsing the way cobra and pflag (2017) do it for kube-spawn:
// interspersed flags, --flag=value, --flag value, -f value, -fvalue, -f=value,
// bool flags without a value, "--" ending the flags; errors and usage text in
// cobra's words.

export type FlagKind = 'string' | 'bool' | 'int'

export interface FlagSpec {
  name: string
  short?: string
  kind: FlagKind
  default: string | boolean | number
  usage: string
}

export interface CommandSpec {
  name: string
  short: string
  long?: string
  example?: string
  flags: FlagSpec[]
}

export interface ProgramSpec {
  name: string
  long: string
  persistentFlags: FlagSpec[]
  /** Flags of the root command only (e.g. --version). */
  rootFlags: FlagSpec[]
  commands: CommandSpec[]
}

export type FlagValues = Record<string, string | boolean | number>

export interface Parsed {
  command: CommandSpec | null
  /** Every flag's value, defaults included. */
  values: FlagValues
  /** Names of the flags given on the command line. */
  changed: Set<string>
  args: string[]
  help: boolean
}

export class UsageError extends Error {
  constructor(
    message: string,
    readonly command: CommandSpec | null,
  ) {
    super(message)
  }
}

export class UnknownCommandError extends Error {}

const helpFlag = (name: string): FlagSpec => ({ name: 'help', short: 'h', kind: 'bool', default: false, usage: `help for ${name}` })

function flagTitle(f: FlagSpec): string {
  return f.short ? `-${f.short}, --${f.name}` : `--${f.name}`
}

function convert(f: FlagSpec, raw: string): string | boolean | number {
  if (f.kind === 'string') return raw
  if (f.kind === 'bool') {
    const b = ({ '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false } as Record<string, boolean>)[raw]
    if (b === undefined) throw new Error(`invalid argument ${JSON.stringify(raw)} for "${flagTitle(f)}" flag: strconv.ParseBool: parsing ${JSON.stringify(raw)}: invalid syntax`)
    return b
  }
  if (!/^[+-]?\d+$/.test(raw)) {
    throw new Error(`invalid argument ${JSON.stringify(raw)} for "${flagTitle(f)}" flag: strconv.ParseInt: parsing ${JSON.stringify(raw)}: invalid syntax`)
  }
  return Number.parseInt(raw, 10)
}

/** Find the sub-command the way cobra does: the first argument that is not a flag or a flag's value. */
function findCommand(spec: ProgramSpec, argv: string[]): { command: CommandSpec | null; rest: string[] } {
  const valued = new Set<string>()
  for (const f of [...spec.persistentFlags, ...spec.rootFlags]) {
    if (f.kind !== 'bool') {
      valued.add(`--${f.name}`)
      if (f.short) valued.add(`-${f.short}`)
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') return { command: null, rest: argv }
    if (a.startsWith('-') && a !== '-') {
      if (valued.has(a)) i++
      continue
    }
    if (a === 'help') return { command: { name: 'help', short: 'Help about any command', flags: [] }, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] }
    const command = spec.commands.find((c) => c.name === a)
    if (!command) throw new UnknownCommandError(`unknown command ${JSON.stringify(a)} for ${JSON.stringify(spec.name)}`)
    return { command, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] }
  }
  return { command: null, rest: argv }
}

export function parse(spec: ProgramSpec, argv: string[]): Parsed {
  const { command, rest } = findCommand(spec, argv)
  const flags = [...(command ? command.flags : spec.rootFlags), ...spec.persistentFlags, helpFlag(command?.name ?? spec.name)]
  const values: FlagValues = {}
  for (const f of flags) values[f.name] = f.default
  const changed = new Set<string>()
  const args: string[] = []
  const set = (f: FlagSpec, raw: string): void => {
    try {
      values[f.name] = convert(f, raw)
    } catch (error) {
      throw new UsageError((error as Error).message, command)
    }
    changed.add(f.name)
  }
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!
    if (a === '--') {
      args.push(...rest.slice(i + 1))
      break
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = eq === -1 ? a.slice(2) : a.slice(2, eq)
      const f = flags.find((x) => x.name === name)
      if (!f) throw new UsageError(`unknown flag: --${name}`, command)
      if (eq !== -1) set(f, a.slice(eq + 1))
      else if (f.kind === 'bool') set(f, 'true')
      else if (i + 1 < rest.length) set(f, rest[++i]!)
      else throw new UsageError(`flag needs an argument: --${name}`, command)
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      const shorts = a.slice(1)
      for (let j = 0; j < shorts.length; j++) {
        const c = shorts[j]!
        const f = flags.find((x) => x.short === c)
        if (!f) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`, command)
        const after = shorts.slice(j + 1)
        if (after.startsWith('=')) {
          set(f, after.slice(1))
          break
        }
        if (f.kind === 'bool') {
          set(f, 'true')
          continue
        }
        if (after) set(f, after)
        else if (i + 1 < rest.length) set(f, rest[++i]!)
        else throw new UsageError(`flag needs an argument: '${c}' in -${c}`, command)
        break
      }
      continue
    }
    args.push(a)
  }
  return { command, values, changed, args, help: values.help === true }
}

function flagUsages(flags: FlagSpec[]): string {
  const rows = flags.map((f) => {
    let left = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`
    if (f.kind !== 'bool') left += ` ${f.kind}`
    let usage = f.usage
    if (f.kind === 'string' && f.default !== '') usage += ` (default ${JSON.stringify(f.default)})`
    if (f.kind === 'int' && f.default !== 0) usage += ` (default ${f.default})`
    return { left, usage }
  })
  const width = Math.max(...rows.map((r) => r.left.length))
  return rows.map((r) => `${r.left.padEnd(width)}   ${r.usage}`).join('\n')
}

const byName = (a: FlagSpec, b: FlagSpec): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

export function usage(spec: ProgramSpec, command: CommandSpec | null): string {
  const out: string[] = []
  if (command) {
    out.push('Usage:', `  ${spec.name} ${command.name} [flags]`)
    if (command.example) out.push('', 'Examples:', command.example.replace(/^\n/, ''))
    out.push('', 'Flags:', flagUsages([...command.flags, helpFlag(command.name)].sort(byName)))
    out.push('', 'Global Flags:', flagUsages([...spec.persistentFlags].sort(byName)))
  } else {
    out.push('Usage:', `  ${spec.name} [flags]`, `  ${spec.name} [command]`, '', 'Available Commands:')
    const all = [...spec.commands, { name: 'help', short: 'Help about any command', flags: [] }].sort((a, b) => (a.name < b.name ? -1 : 1))
    const width = Math.max(...all.map((c) => c.name.length)) + 3
    for (const c of all) out.push(`  ${c.name.padEnd(Math.max(width, 11))}${c.short}`)
    out.push('', 'Flags:', flagUsages([...spec.persistentFlags, ...spec.rootFlags, helpFlag(spec.name)].sort(byName)))
    out.push('', `Use "${spec.name} [command] --help" for more information about a command.`)
  }
  return out.join('\n') + '\n'
}

export function help(spec: ProgramSpec, command: CommandSpec | null): string {
  const long = command ? (command.long ?? command.short) : spec.long
  return `${long}\n\n${usage(spec, command)}`
}
