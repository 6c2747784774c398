// `kspawn doctor`: whether this machine has what the configured loop needs,
// each tool and service with what it is for and, when missing, how to get it.
import { constants } from 'node:fs'
import { access, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Config } from '../engine/config/config.ts'
import { CommandError, UsageError } from '../engine/errors.ts'
import { loadConfig } from '../engine/config/load-config.ts'
import { createStyle, useColor } from '../engine/terminal.ts'
import type { CliDeps } from './deps.ts'

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

interface Tool {
  name: string
  purpose: string
  /** How to get it; `sudo` is `sudo ` for a user who is not root, and empty for root, who may have no sudo at all. */
  install: (sudo: string) => string
  /** Whether the config needs it; without a config, every tool is checked. */
  neededBy(config: Config): boolean
}

const always = () => true

export const tools: Tool[] = [
  {
    name: 'git',
    purpose: "to fetch each variant's source into a worktree of its own",
    install: (sudo) => `${sudo}apt-get install git`,
    neededBy: (config) => config.variants.some((variant) => variant.build),
  },
  { name: 'docker', purpose: 'to build, tag and pull the hyperkube images', install: (sudo) => `${sudo}apt-get install docker.io`, neededBy: always },
  {
    name: 'make',
    purpose: 'to build Kubernetes and its hyperkube image (build/run.sh make, make -C cluster/images/hyperkube)',
    install: (sudo) => `${sudo}apt-get install make`,
    neededBy: (config) => config.variants.some((variant) => variant.build),
  },
  {
    name: 'kube-spawn',
    purpose: 'to create and start a cluster for each variant',
    install: () => 'download it from https://github.com/kinvolk/kube-spawn/releases and put it on PATH',
    neededBy: (config) => config.deployer.name === 'kube-spawn',
  },
  { name: 'kubectl', purpose: 'to run the smoke tests against the clusters', install: (sudo) => `${sudo}apt-get install kubernetes-client`, neededBy: always },
]

/** Resolves to 0 when everything needed is there, 1 otherwise. */
export async function doctorCommand(options: DoctorCommandOptions, deps: CliDeps): Promise<number> {
  const config = await loadConfigIfAny(options, deps)
  const checks = await runChecks(config, deps)
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
    return await loadConfig({ cwd: deps.cwd, configFile: options.config, home: deps.home })
  } catch (error) {
    // No config found is fine here: the doctor then checks for everything.
    if (error instanceof UsageError && options.config === undefined) return undefined
    throw error
  }
}

export async function runChecks(config: Config | undefined, deps: CliDeps): Promise<Check[]> {
  const needed = tools.filter((tool) => !config || tool.neededBy(config))
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

  if (!config || config.deployer.name === 'kube-spawn') {
    const purpose = 'to run kube-spawn as root (sudo -E)'
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
