// Everything a command reaches outside itself, in one container: tests pass
// their own writers, environment, folder and registry of fake tasks.
import type { Config } from '../engine/config/config.ts'
import { isKspawnError, type KspawnError } from '../engine/errors.ts'
import type { PluginDefinition } from '../engine/plugin.ts'
import type { Env, Output } from '../engine/terminal.ts'
import { loadRegistry, type Registry } from './registry.ts'
import { watchProcessSignals, type Interrupts } from './signals.ts'

export interface CliDeps {
  stdout: Output
  stderr: Output
  env: Env
  /** Where the config is looked for, and what relative paths on the command line are relative to. */
  cwd: string
  /** What `~` in the config expands to; the user's home folder by default. */
  home?: string
  isRoot: boolean
  loadRegistry(): Promise<Registry>
  /** The plugins kspawn ships (plugins/index.ts), handed to the engine with each config. */
  loadPlugins(): Promise<readonly PluginDefinition[]>
  /** Starts watching for what interrupts a run (SIGINT, SIGTERM). */
  interrupts(): Interrupts
  /**
   * What this machine lacks for a run of these variants (tools, the Docker
   * daemon, sudo: what `kspawn doctor` finds), checked before the run's first
   * command; taskIds are the run's tasks. One sentence per problem.
   */
  machineProblems(config: Config, taskIds: string[]): Promise<string[]>
}

export function defaultDeps(): CliDeps {
  const defaults: CliDeps = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    isRoot: process.getuid?.() === 0,
    loadRegistry,
    loadPlugins: async () => (await import('../plugins/index.ts')).builtinPlugins,
    interrupts: watchProcessSignals,
    machineProblems: async (config, taskIds) => (await import('./doctor.ts')).machineProblems(config, taskIds, defaults),
  }
  return defaults
}

/** The config a command acts on (`--config`, or the nearest one), checked against the plugins it may use. */
export async function loadConfigFor(deps: CliDeps, configFile: string | undefined): Promise<Config> {
  const { loadConfig } = await import('../engine/config/load-config.ts')
  return loadConfig({ plugins: await deps.loadPlugins(), cwd: deps.cwd, configFile, home: deps.home })
}

/**
 * The config, for a command that gathers every problem of its command line
 * first: when it cannot be loaded (a bad or missing config) the error is
 * handed back, to be reported with the line's other problems.
 */
export async function tryLoadConfigFor(deps: CliDeps, configFile: string | undefined): Promise<{ config: Config; error?: undefined } | { config?: undefined; error: KspawnError }> {
  try {
    return { config: await loadConfigFor(deps, configFile) }
  } catch (error) {
    if (isKspawnError(error)) return { error }
    throw error
  }
}
