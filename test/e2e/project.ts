// What the end-to-end suites share: a kspawn.config.ts for the test world,
// and the real CLI run in a user's folder, from sources or as installed.
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatCommandLine } from '../../engine/command-line.ts'
import { sh, world, type Result } from '../world/harness.ts'
import { repoDir } from '../world/state.ts'

export interface ConfigOptions {
  checkout: string
  workdir: string
  /** One `name: { ... }` entry of `variants` per line. */
  variants: string[]
  /** The top-level smoke list, as TypeScript. */
  smoke: string
  /** The share repository, when the config has one. */
  share?: string
}

/** Writes a config that builds in `workdir` and spawns 2-node clusters in the world's kube-spawn folder. */
export async function writeConfig(file: string, options: ConfigOptions): Promise<string> {
  const lines = [
    `import { defineConfig } from 'kspawn'`,
    `import { admission } from 'kspawn/plugins/admission'`,
    `import { kubeSpawn } from 'kspawn/plugins/kube-spawn'`,
    `export default defineConfig({`,
    `  kubernetes: { checkout: ${JSON.stringify(options.checkout)} },`,
    `  workdir: ${JSON.stringify(options.workdir)},`,
    `  deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)} }),`,
    `  variants: {`,
    ...options.variants.map((line) => `    ${line.trim().replace(/,$/, '')},`),
    `  },`,
    `  smoke: ${options.smoke},`,
    ...(options.share ? [`  share: { repository: ${JSON.stringify(options.share)} },`] : []),
    `})`,
    '',
  ]
  await writeFile(file, lines.join('\n'))
  return file
}

/** The CLI from sources, as a user runs it in `cwd`: plain output, no colour. */
export function kspawn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  // The config's folder has no node_modules: tsx is named by its own location.
  return asUser(['node', '--import', import.meta.resolve('tsx'), join(repoDir, 'bin', 'kspawn.ts'), ...args], cwd, env)
}

/** The `kspawn` that PATH finds first (`env.PATH` when given), as a user types it after installing kspawn. */
export function installedKspawn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return asUser(['kspawn', ...args], cwd, env)
}

/**
 * Puts an executable `kspawn` that runs the CLI from sources in `folder`, for
 * commands kspawn prints (`kspawn down ...`) to be run as a user pastes them.
 */
export async function kspawnOnPath(folder: string): Promise<string> {
  await mkdir(folder, { recursive: true })
  const command = formatCommandLine(['node', '--import', import.meta.resolve('tsx'), join(repoDir, 'bin', 'kspawn.ts')])
  await writeFile(join(folder, 'kspawn'), `#!/bin/sh\n# kspawn from sources, for tests that paste what kspawn printed.\nexec ${command} "$@"\n`)
  await chmod(join(folder, 'kspawn'), 0o755)
  return folder
}

/** A command line kspawn printed, run by bash in `cwd` as if pasted, with `bin` (see kspawnOnPath) first on PATH. */
export function paste(line: string, cwd: string, bin: string): Promise<Result> {
  return asUser(['bash', '-c', line], cwd, { PATH: `${bin}:${world().PATH}` })
}

async function asUser(argv: string[], cwd: string, env: Record<string, string>): Promise<Result> {
  const result = await sh(argv, { cwd, env: { CI: 'true', NO_COLOR: '1', ...env }, timeoutMs: 600_000 })
  // Node warns that NO_COLOR loses to the FORCE_COLOR of the test runner's environment.
  return { ...result, stderr: result.stderr.replace(/^\(node:\d+\) Warning: [^\n]*\n\(Use `node --trace-warnings[^\n]*\n/, '') }
}

/**
 * The lines a run's summary gives one variant: its result, each smoke-test
 * expectation with what was seen (what the cluster answered, not the
 * config's expectation), and its cluster. Fails when the variant has none.
 */
export function summaryOf(output: string, variant: string): string {
  const lines = output.split('\n')
  const start = lines.findIndex((line) => new RegExp(`^  [✔✖■] ${variant} (passed|failed|stopped|did not finish)`).test(line))
  if (start === -1) throw new Error(`the summary has no line for variant ${variant}:\n${output.slice(-3000)}`)
  const end = lines.findIndex((line, index) => index > start && !line.startsWith('      '))
  return lines.slice(start, end === -1 ? undefined : end).join('\n')
}

/** The Forbidden line kubectl attach got from the API server, as the summary shows it under "seen:". */
export function deniedWith(message: string): RegExp {
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^ +Error from server \\(Forbidden\\): pods "kspawn-smoke-[0-9a-f]+" is forbidden: ${escaped}$`, 'm')
}
