// `kspawn doctor`: whether this machine has what the configured loop needs,
// each tool and service with what it is for and, when missing, how to get it.
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Config } from '../engine/config/config.ts'
import type { PluginDefinition, ToolNeed } from '../engine/plugin.ts'
import { CommandError, UsageError } from '../engine/errors.ts'
import { createStyle, useColor } from '../engine/terminal.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'

export interface DoctorCommandOptions {
  /** --config */
  config?: string
}

export interface Check {
  name: string
  ok: boolean
  /** Where it was found or what it answered; what is wrong when not ok. */
  detail: string
  purpose: string
  /** What to do when it is not ok. */
  fix?: string
}

/** What every dev loop needs, whatever its plugins: the plugins' own tools go between docker and kubectl. */
const generic: { before: ToolNeed[]; after: ToolNeed[] } = {
  before: [
    { name: 'git', purpose: "to fetch each variant's source into a worktree of its own", install: (sudo) => `${sudo}apt-get install git`, forBuilds: true },
    { name: 'docker', purpose: 'to build, tag and pull the images clusters run', install: (sudo) => `${sudo}apt-get install docker.io` },
  ],
  after: [{ name: 'kubectl', purpose: 'to run the smoke tests against the clusters', install: (sudo) => `${sudo}apt-get install kubernetes-client` }],
}

/** The plugins a config uses (its variants' deployers and testers), or every known one without a config. */
function pluginsInUse(config: Config | undefined, known: readonly PluginDefinition[]): PluginDefinition[] {
  if (!config) return [...known]
  const used = new Set(config.variants.flatMap((variant) => [variant.deployer, ...variant.smoke]).map((plugin) => `${plugin.kind}\0${plugin.name}`))
  return config.plugins.filter((definition) => used.has(`${definition.kind}\0${definition.name}`))
}

/** Resolves to 0 when everything needed is there, 1 otherwise. */
export async function doctorCommand(options: DoctorCommandOptions, deps: CliDeps): Promise<number> {
  const config = await loadConfigIfAny(options, deps)
  const checks = await runChecks(config, deps, await deps.loadPlugins())
  const style = createStyle(useColor(deps.stdout, deps.env))
  const width = Math.max(...checks.map((check) => check.name.length))
  const lines = [config ? `What ${path.relative(deps.cwd, config.file) || config.file} needs:` : 'No config found; what a dev loop can need:']
  for (const check of checks) {
    const mark = check.ok ? style.green('✔') : style.red('✖')
    lines.push(`  ${mark} ${check.name.padEnd(width)}  ${check.detail} — ${check.purpose}`)
    if (!check.ok && check.fix) lines.push(`    ${''.padEnd(width)}  ${check.fix}`)
  }
  const missing = checks.filter((check) => !check.ok)
  lines.push(missing.length === 0 ? style.green('Everything is there.') : style.red(`Missing: ${missing.map((check) => check.name).join(', ')}.`))
  deps.stdout.write(`${lines.join('\n')}\n`)
  return missing.length === 0 ? 0 : 1
}

async function loadConfigIfAny(options: DoctorCommandOptions, deps: CliDeps): Promise<Config | undefined> {
  try {
    return await loadConfigFor(deps, options.config)
  } catch (error) {
    // No config found is fine here: the doctor then checks for everything.
    if (error instanceof UsageError && options.config === undefined) return undefined
    throw error
  }
}

export async function runChecks(config: Config | undefined, deps: Pick<CliDeps, 'env' | 'isRoot'>, known: readonly PluginDefinition[]): Promise<Check[]> {
  const plugins = pluginsInUse(config, known)
  const builds = !config || config.variants.some((variant) => variant.build)
  const all = [...generic.before, ...plugins.flatMap((plugin) => plugin.doctor?.tools ?? []), ...generic.after]
  const needed = all.filter((tool, index) => (builds || !tool.forBuilds) && all.findIndex((other) => other.name === tool.name) === index)
  const { createRunner } = await import('../engine/runner/runner.ts')
  // In dry-run mode the runner still runs commands that only read, and writes no log: the doctor leaves no trace.
  const runner = createRunner({ runDir: tmpdir(), dryRun: true, emit: () => {}, isRoot: deps.isRoot })
  const probe = async (argv: string[]): Promise<{ ok: true; output: string } | { ok: false; problem: string }> => {
    try {
      const result = await runner.run({ argv, reads: true, capture: true, env: deps.env, timeoutMs: 20_000 }, { id: 'doctor' })
      return { ok: true, output: (result.stdout ?? '').trim() }
    } catch (error) {
      if (!(error instanceof CommandError)) throw error
      const said = error.failure.tail.filter((line) => line.trim()).at(-1)
      return { ok: false, problem: said ?? `${error.failure.commandLine} ${error.failure.outcome}` }
    }
  }

  const sudoPrefix = deps.isRoot ? '' : 'sudo '
  const checks: Check[] = []
  const found = new Map<string, string>()
  for (const tool of needed) {
    const file = await findExecutable(tool.name, deps.env.PATH ?? '')
    if (file) found.set(tool.name, file)
    checks.push(
      file
        ? { name: tool.name, ok: true, detail: file, purpose: tool.purpose }
        : { name: tool.name, ok: false, detail: 'missing', purpose: tool.purpose, fix: tool.install(sudoPrefix) },
    )
  }

  const docker = found.get('docker')
  if (needed.some((tool) => tool.name === 'docker')) {
    const purpose = 'to build and keep the images'
    if (!docker) {
      checks.push({ name: 'docker daemon', ok: false, detail: 'not checked', purpose, fix: 'install docker first' })
    } else {
      const answer = await probe([docker, 'version', '--format', '{{.Server.Version}}'])
      checks.push(answer.ok ? { name: 'docker daemon', ok: true, detail: `answers (server ${answer.output})`, purpose } : daemonProblem(answer.problem, deps.env.DOCKER_HOST, sudoPrefix, purpose))
    }
  }

  const sudoPurposes = plugins.map((plugin) => plugin.doctor?.sudo).filter((purpose) => purpose !== undefined)
  if (sudoPurposes.length > 0) {
    const purpose = sudoPurposes.join('; ')
    if (deps.isRoot) {
      checks.push({ name: 'sudo', ok: true, detail: 'not needed, kspawn runs as root', purpose })
    } else {
      const sudo = await findExecutable('sudo', deps.env.PATH ?? '')
      const answer = sudo ? await probe([sudo, '-n', 'true']) : undefined
      checks.push(
        !sudo
          ? { name: 'sudo', ok: false, detail: 'missing', purpose, fix: 'as root: apt-get install sudo, and allow your user to use it' }
          : answer?.ok
            ? { name: 'sudo', ok: true, detail: `${sudo} works without a password prompt`, purpose }
            : {
                name: 'sudo',
                ok: false,
                detail: `${sudo} -n true fails (${answer?.ok === false ? answer.problem : ''})`,
                purpose,
                fix: 'run sudo -v before kspawn so that sudo does not prompt in the middle of a run, or run kspawn as root',
              },
      )
    }
  }
  return checks
}

/** Why the docker daemon did not answer, and what to do about it: a daemon that refuses this user needs another remedy than one that is not there. */
function daemonProblem(problem: string, dockerHost: string | undefined, sudo: string, purpose: string): Check {
  const name = 'docker daemon'
  if (/permission denied/i.test(problem)) {
    return {
      name,
      ok: false,
      detail: `refuses this user (${problem})`,
      purpose,
      fix: `the daemon runs but lets only root and the docker group in: add yourself to that group (${sudo}usermod -aG docker "$USER") and log in again, or run kspawn as root`,
    }
  }
  const fix = dockerHost
    ? `nothing answers at DOCKER_HOST=${dockerHost}: start the daemon that listens there, point DOCKER_HOST at one that runs, or unset it to use the system's daemon`
    : `start it (${sudo}systemctl start docker), or point DOCKER_HOST at one that runs`
  return { name, ok: false, detail: `does not answer (${problem})`, purpose, fix }
}

/** The first executable file of that name in PATH, as a shell would find it. */
export async function findExecutable(name: string, searchPath: string): Promise<string | undefined> {
  for (const folder of searchPath.split(path.delimiter)) {
    if (!folder) continue
    const file = path.join(folder, name)
    const info = await stat(file).catch(() => undefined)
    if (!info?.isFile()) continue
    const executable = await access(file, constants.X_OK).then(
      () => true,
      () => false,
    )
    if (executable) return file
  }
  return undefined
}
