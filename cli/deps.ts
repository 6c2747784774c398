// Everything a command reaches outside itself, in one container: tests pass
// their own writers, environment, folder and registry of fake tasks.
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
  /** Starts watching for what interrupts a run (SIGINT, SIGTERM). */
  interrupts(): Interrupts
}

export function defaultDeps(): CliDeps {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    isRoot: process.getuid?.() === 0,
    loadRegistry,
    interrupts: watchProcessSignals,
  }
}
