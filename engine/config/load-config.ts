// Finding the config file and running it. Config files are TypeScript or
// JavaScript modules; jiti runs them on Node 20, which cannot strip types.
// jiti and the schema are imported only when a config is loaded, so commands
// that need no config (`kspawn --version`) do not pay for them.
import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from './config.ts'
import { ConfigError, UsageError, type ConfigProblem } from '../errors.ts'
import type { PluginDefinition } from '../plugin.ts'

// kspawn's engine, and the package root above it (engine/config/ → engine/ → the root).
const engineFolder = dirname(dirname(fileURLToPath(import.meta.url)))

/** In the order they are looked for in a folder. */
export const configFileNames = ['kspawn.config.ts', 'kspawn.config.mts', 'kspawn.config.js', 'kspawn.config.mjs'] as const


export interface LoadConfigOptions {
  /** The plugins kspawn ships (plugins/index.ts), which the CLI hands over; a config may add its own. */
  plugins: readonly PluginDefinition[]
  /** Where discovery starts, and what messages name files relative to. Default: `process.cwd()`. */
  cwd?: string
  /** A config file to load instead of discovering one (`--config`); relative to `cwd`. */
  configFile?: string
  /** What `~` in the config expands to. Default: the user's home folder. */
  home?: string
}

/** The nearest config file in `cwd` or a folder above it. */
export function findConfigFile(cwd: string): string | undefined {
  for (let folder = resolve(cwd); ; folder = dirname(folder)) {
    for (const name of configFileNames) {
      const file = join(folder, name)
      if (statSync(file, { throwIfNoEntry: false })?.isFile()) return file
    }
    if (dirname(folder) === folder) return undefined
  }
}

export async function loadConfig({ plugins, cwd = process.cwd(), configFile, home }: LoadConfigOptions): Promise<Config> {
  const file = configFile === undefined ? findConfigFile(cwd) : resolve(cwd, configFile)
  if (file === undefined) {
    throw new UsageError(
      `no ${configFileNames.join(', ')} in ${resolve(cwd)} or a folder above it: create one, or name one with --config <file>`,
    )
  }
  // A file named on the command line by its absolute path, outside the working folder, is shown so (not as ../../..).
  const displayFile = configFile !== undefined && isAbsolute(configFile) && relative(cwd, file).startsWith('..') ? file : displayPath(file, cwd)
  if (configFile !== undefined) checkConfigFile(file, displayFile)
  const exported = await importConfig(file, displayFile, plugins)
  const { loadPlugins, ownPlugins, parseConfig } = await import('./config-schema.ts')
  const known = await loadPlugins(plugins, ownPlugins(exported), displayFile)
  return parseConfig(exported, { plugins: known, file, displayFile, ...(home === undefined ? {} : { home }) })
}

function checkConfigFile(file: string, displayFile: string): void {
  const stats = statSync(file, { throwIfNoEntry: false })
  const problem = !stats
    ? 'no such file'
    : !stats.isFile()
      ? 'expected a config file, found a folder'
      : !configFileNames.some((name) => extname(name) === extname(file))
        ? `expected a .ts, .mts, .js or .mjs file, found a ${extname(file) || 'file without extension'}`
        : undefined
  if (problem !== undefined) throw new ConfigError(displayFile, [{ path: '', message: problem }])
}

/** Runs the config file and returns its default export. */
async function importConfig(file: string, displayFile: string, plugins: readonly PluginDefinition[]): Promise<unknown> {
  // jiti is CommonJS: required, it starts in a fraction of the time that an import takes
  // (node scans a CommonJS module imported from ESM for its exports: 190 kB here).
  const { createJiti } = createRequire(import.meta.url)('jiti') as typeof import('jiti')
  const jiti = createJiti(import.meta.url, {
    // A config edited between two loads in one process is read again.
    moduleCache: false,
    alias: packageAliases(plugins),
    // Installed, kspawn's own modules load natively: the config shares them with the running kspawn.
    nativeModules: ['kspawn'],
  })
  let module: unknown
  try {
    module = await jiti.import(file)
  } catch (error) {
    throw new ConfigError(displayFile, [loadProblem(error, file)], { cause: error })
  }
  const exports = typeof module === 'object' && module !== null ? module : {}
  if (!('default' in exports) || exports.default === undefined) {
    const names = Object.keys(exports)
    const foundExports = names.length === 0 ? 'no exports' : `only ${names.length === 1 ? 'the export' : 'the exports'} ${names.join(', ')}`
    throw new ConfigError(displayFile, [
      { path: '', message: `expected a default export (export default defineConfig({ ... })), found ${foundExports}` },
    ])
  }
  return exports.default
}

// `import ... from 'kspawn'` in a config resolves to the kspawn that is loading
// it, found next to this module: dist/ once built and installed, the sources
// in this repository (where package.json "exports" points at a dist/ that may
// not exist). A config never sees another copy than the one that checks it.
function packageAliases(plugins: readonly PluginDefinition[]): Record<string, string> {
  const extension = extname(fileURLToPath(import.meta.url))
  const modules: Record<string, string> = { kspawn: join(dirname(engineFolder), `index${extension}`) }
  for (const plugin of plugins) if (plugin.file !== undefined) modules[plugin.module] = plugin.file
  return modules
}

/** What went wrong while running the config file, located in it when the error says where. */
function loadProblem(error: unknown, file: string): ConfigProblem {
  if (!(error instanceof Error)) return { path: '', message: `the config threw ${String(error)}` }
  // jiti reports a syntax error as "ParseError: <what>\n <file>:<line>:<column>", the column counted from 0.
  const parse = /^(?:ParseError: )?(.*?)\s*\n\s*(\/.*):(\d+):(\d+)\s*$/s.exec(error.message)
  if (parse) {
    const [, what = '', where = '', line = '', column = ''] = parse
    const position = { line: Number(line), column: Number(column) + 1 }
    return where === file
      ? { path: '', ...position, message: `syntax error: ${what}` }
      : { path: '', message: `syntax error in ${displayPath(where, dirname(file))}:${position.line}:${position.column}, which the config imports: ${what}` }
  }
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    const missing = /Cannot find (?:module|package) '([^']+)'/.exec(error.message)?.[1]
    const bare = missing !== undefined && !/^[./]/.test(missing)
    const hint = bare ? `; install it next to the config (npm install ${packageName(missing)})` : ''
    return { path: '', message: `cannot load the config: ${error.message.split('\n')[0]}${hint}` }
  }
  const frames = stackFrames(error)
  const inConfig = frames.find((frame) => frame.file === file)
  // Where it was thrown, unless that is in a dependency or in kspawn's engine.
  const origin = frames.find((frame) => !frame.file.includes(`${sep}node_modules${sep}`) && !frame.file.startsWith(`${engineFolder}${sep}`))
  const at = origin === undefined || origin.file === file ? '' : ` (at ${displayPath(origin.file, dirname(file))}:${origin.line})`
  return { path: '', line: inConfig?.line, message: `the config threw ${error.name}: ${error.message}${at}` }
}

/** Files and lines of a stack trace. Lines are exact; columns are not kept, as they point into the code jiti runs once types are stripped. */
function stackFrames(error: Error): { file: string; line: number }[] {
  return [...(error.stack ?? '').matchAll(/((?:file:\/\/)?\/[^():\n]+):(\d+):\d+\)?$/gm)].map(([, location = '', line = '']) => ({
    file: location.startsWith('file://') ? fileURLToPath(location) : location,
    line: Number(line),
  }))
}

function packageName(specifier: string): string {
  const parts = specifier.split('/')
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!
}

/** Relative to `cwd` when the file is in it, below it or in a folder above it (as discovery finds it); absolute otherwise. */
function displayPath(file: string, cwd: string): string {
  const path = relative(cwd, file)
  const parts = path.split(sep)
  const nearby = !path.startsWith('..') || parts.slice(0, -1).every((part) => part === '..')
  return nearby && path !== '' ? path : file
}
