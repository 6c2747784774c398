// The CLI's main() in this process, as test/bin's suites call it: its output
// captured, a folder of the test's own as cwd, fake tasks in place of the
// registry's and no check of this machine, unless a test overrides them.
import { mkdir, symlink } from 'node:fs/promises'
import path from 'node:path'
import type { CliDeps } from '../../cli/deps.ts'
import { findExecutable } from '../../cli/doctor.ts'
import { main } from '../../cli/main.ts'
import type { Registry } from '../../cli/registry.ts'
import { capture } from '../engine/workflow-helpers.ts'

export interface CliResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** A `kspawn(argv, overrides)` for a suite: `cwd` and `registry` are read at each call, as suites set them in their hooks. */
export function inProcessCli(cwd: () => string, registry: () => Registry, defaults: Partial<CliDeps> = {}) {
  return async (argv: string[], overrides: Partial<CliDeps> = {}): Promise<CliResult> => {
    const stdout = capture()
    const stderr = capture()
    const exitCode = await main(argv, {
      stdout,
      stderr,
      env: { PATH: process.env.PATH },
      cwd: cwd(),
      isRoot: true,
      loadRegistry: async () => registry(),
      interrupts: () => ({ signal: new AbortController().signal, force: new AbortController().signal, dispose() {} }),
      // The fake tasks need nothing of this machine.
      machineProblems: async () => [],
      ...defaults,
      ...overrides,
    })
    return { exitCode, stdout: stdout.text(), stderr: stderr.text() }
  }
}

/** A folder of links to the named tools as this machine has them, and nothing else: a PATH for doctor. */
export async function linkTools(bin: string, tools: string[]): Promise<string> {
  await mkdir(bin)
  for (const tool of tools) {
    const real = await findExecutable(tool, process.env.PATH ?? '')
    if (real) await symlink(real, path.join(bin, tool))
  }
  return bin
}
