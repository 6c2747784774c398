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
  /** --json: one JSON document on stdout (DoctorJson), instead of the text; the exit status is the same. */
  json?: boolean
}

/** `kspawn doctor --json`, a stable interface: docs/cli.md describes it; a change that breaks a reader raises `version`. */
export interface DoctorJson {
  version: 1
  /** The config file checked for, absolute; null when none was found (then every deployer's needs are checked). */
  config: string | null
  /** True when nothing needed is missing: kspawn doctor exits 0. */
  ok: boolean
  checks: {
    name: string
    ok: boolean
    /** What was found: where a tool is, what it answered; what is wrong when not ok. */
    found: string
    /** What kspawn needs it for. */
    purpose: string
    /** What to do about it when not ok; null when ok or when there is no advice. */
    fix: string | null
    /** Why it does not count although not ok (another deployer can stand in), else null. */
    optional: string | null
  }[]
  /** The names of the checks that are not ok and count. */
  missing: string[]
}

export interface Check {
  name: string
  ok: boolean
  /** Where it was found or what it answered; what is wrong when not ok. */
  detail: string
  purpose: string
  /** What to do when it is not ok. */
  fix?: string
  /** Why a check that is not ok does not count: without a config, the tools of a deployer another one can stand in for. */
  optional?: string
}

/** What every dev loop needs, whatever its plugins: the plugins' own tools go between docker and kubectl. */
const generic: { before: ToolNeed[]; after: ToolNeed[] } = {
  before: [
    { name: 'bash', purpose: 'kspawn runs every command through it (zx)', install: (sudo) => `${sudo}apt-get install bash` },
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
  const checks = [...(await runChecks(config, deps, await deps.loadPlugins())), ...(config ? await sourceChecks(config) : [])]
  const missing = checks.filter((check) => !check.ok && !check.optional)
  if (options.json) {
    const document: DoctorJson = {
      version: 1,
      config: config?.file ?? null,
      ok: missing.length === 0,
      checks: checks.map((check) => ({ name: check.name, ok: check.ok, found: check.detail, purpose: check.purpose, fix: check.ok ? null : (check.fix ?? null), optional: check.ok ? null : (check.optional ?? null) })),
      missing: missing.map((check) => check.name),
    }
    deps.stdout.write(`${JSON.stringify(document, null, 2)}\n`)
    return missing.length === 0 ? 0 : 1
  }
  const style = createStyle(useColor(deps.stdout, deps.env))
  const width = Math.max(...checks.map((check) => check.name.length))
  const lines = [config ? `What ${path.relative(deps.cwd, config.file) || config.file} needs:` : 'No config found; what a dev loop can need:']
  for (const check of checks) {
    const mark = check.ok ? style.green('✔') : check.optional ? style.yellow('○') : style.red('✖')
    lines.push(`  ${mark} ${check.name.padEnd(width)}  ${check.detail} — ${check.purpose}${!check.ok && check.optional ? ` (${check.optional})` : ''}`)
    if (!check.ok && check.fix) lines.push(`    ${''.padEnd(width)}  ${check.fix}`)
  }
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

  // Without bash no command can be asked anything (zx runs them through it).
  const canAsk = found.has('bash')
  for (const need of plugins.flatMap((plugin) => plugin.doctor?.versions ?? [])) {
    const file = found.get(need.tool)
    if (!file || !canAsk || !needed.some((tool) => tool.name === need.tool)) continue
    const answer = await probe([file, ...need.argv.slice(1)])
    const version = answer.ok ? need.parse(answer.output) : undefined
    const name = `${need.tool} version`
    const purpose = `at least ${need.atLeast}: ${need.why}`
    if (version !== undefined && !olderThan(version, need.atLeast)) checks.push({ name, ok: true, detail: version, purpose })
    else {
      const detail = version ?? `unknown (${answer.ok ? `${need.argv.join(' ')} printed ${JSON.stringify(answer.output.split('\n')[0] ?? '')}` : answer.problem})`
      const tool = tools(plugins).find((candidate) => candidate.name === need.tool)
      checks.push({ name, ok: false, detail, purpose, ...(tool ? { fix: tool.install(sudoPrefix) } : {}) })
    }
  }

  const docker = found.get('docker')
  if (needed.some((tool) => tool.name === 'docker')) {
    const purpose = 'to build and keep the images'
    if (!docker) {
      checks.push({ name: 'docker daemon', ok: false, detail: 'not checked', purpose, fix: 'install docker first' })
    } else if (!canAsk) {
      checks.push({ name: 'docker daemon', ok: false, detail: 'not checked: bash is missing', purpose, fix: 'install bash first' })
    } else {
      const answer = await probe([docker, 'version', '--format', '{{.Server.Version}}'])
      checks.push(answer.ok ? { name: 'docker daemon', ok: true, detail: `answers (server ${answer.output})`, purpose } : daemonProblem(answer.problem, deps.env.DOCKER_HOST, sudoPrefix, purpose))
    }
  }

  // Without a config, each deployer is one way to spawn clusters: a machine that has what one of them needs lacks nothing.
  const deployers = plugins.filter((plugin) => plugin.kind === 'deployer')
  const usable = deployers.filter((plugin) => (plugin.doctor?.tools ?? []).every((tool) => found.has(tool.name) || !needed.includes(tool)))
  const alternatives = !config && deployers.length > 1 && usable.length > 0
  if (alternatives) {
    const genericTools = [...generic.before, ...generic.after].map((tool) => tool.name)
    for (const check of checks) {
      const owners = deployers.filter((plugin) => (plugin.doctor?.tools ?? []).some((tool) => tool.name === check.name))
      // Only a tool that no usable deployer needs (and that nothing else does) stops counting.
      if (check.ok || owners.length === 0 || genericTools.includes(check.name) || owners.some((plugin) => usable.includes(plugin))) continue
      check.optional = `needed only with ${owners.map((plugin) => plugin.name).join(' or ')}; ${usable.map((plugin) => plugin.name).join(' and ')} can run here`
    }
  }

  const sudoers = plugins.filter((plugin) => plugin.doctor?.sudo !== undefined && (!alternatives || usable.includes(plugin)))
  const sudoPurposes = sudoers.map((plugin) => plugin.doctor!.sudo!)
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

/** The checkout the variants' sources are fetched into, and the remotes given as folders, as a run checks them before it starts. */
async function sourceChecks(config: Config): Promise<Check[]> {
  const built = config.variants.filter((variant) => variant.build)
  if (built.length === 0) return []
  const { fetchSource } = await import('../tasks/fetch-source.ts')
  const problems = [...new Set((await Promise.all(built.map((variant) => fetchSource.preflight!(config, variant)))).flat())]
  const checkout = problems.filter((problem) => problem.startsWith('your Kubernetes checkout'))
  const remotes = problems.filter((problem) => !checkout.includes(problem))
  const remoteNames = [...new Set(built.map((variant) => variant.build!.remote))]
  return [
    checkout.length === 0
      ? { name: 'checkout', ok: true, detail: `${config.kubernetes.checkout} is a git work tree`, purpose: "to fetch each variant's source into (it is left as it is)" }
      : { name: 'checkout', ok: false, detail: checkout.join('; '), purpose: "to fetch each variant's source into" },
    remotes.length === 0
      ? { name: 'remotes', ok: true, detail: remoteNames.join(', '), purpose: "where the variants' sources come from" }
      : { name: 'remotes', ok: false, detail: remotes.join('; '), purpose: "where the variants' sources come from" },
  ]
}

/**
 * What `kspawn doctor` finds missing for a run (tools, their versions, the
 * Docker daemon, sudo), one sentence each, as a run's preflight: kubectl
 * only when the run has smoke tests.
 */
export async function machineProblems(config: Config, taskIds: string[], deps: Pick<CliDeps, 'env' | 'isRoot' | 'loadPlugins'>): Promise<string[]> {
  const checks = await runChecks(config, deps, await deps.loadPlugins())
  return checks
    .filter((check) => !check.ok && !check.optional && (check.name !== 'kubectl' || taskIds.includes('smoke-test')))
    .map((check) => `${check.name}: ${check.detail} (${check.purpose})${check.fix ? `; ${check.fix}` : ''}`)
}

/** Every tool the plugins name. */
function tools(plugins: PluginDefinition[]): ToolNeed[] {
  return plugins.flatMap((plugin) => plugin.doctor?.tools ?? [])
}

/** Whether dotted version `a` is older than `b`: 0.25.1 < 0.26.0. */
export function olderThan(a: string, b: string): boolean {
  const [x, y] = [a, b].map((version) => version.split('.').map(Number))
  for (let i = 0; i < Math.max(x!.length, y!.length); i++) {
    const difference = (x![i] ?? 0) - (y![i] ?? 0)
    if (difference !== 0) return difference < 0
  }
  return false
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
