// `kspawn pr <url>`: a pull request, commit or branch on GitHub, resolved
// through the API to an exact commit, then the dev loop's tasks for it as one
// variant (fetch-source, build, image, cluster-up, smoke-test), with the
// config's smoke tests, and optionally the result as a comment on the PR.
import { tmpdir } from 'node:os'
import type { Config } from '../engine/config/config.ts'
import { UsageError } from '../engine/errors.ts'
import { stepLabel } from '../engine/run/events.ts'
import { createRunner } from '../engine/runner/runner.ts'
import { createGitHubClient, explainFailure, findToken, type GitHubToken } from '../github/github.ts'
import { resolveTarget, type Target } from '../github/github-target.ts'
import { apiForUrl, apiUrlProblem, hasCredentials, normalApiUrl, parseGitHubRef, webHostOf } from '../github/github-url.ts'
import type { StepIO, Tester } from '../engine/plugin.ts'
import { commentBody, upsertComment } from '../github/pr-comment.ts'
import { checkChoices, derivePrVariant, type PrVariant } from '../github/pr-variant.ts'
import type { Output, RendererName } from '../engine/terminal.ts'
import { loadConfigFor, type CliDeps } from './deps.ts'
import { findWorkflow } from './registry.ts'
import type { Interrupts } from './signals.ts'
import { readVersion } from './version.ts'

export interface PrCommandOptions {
  url: string
  config?: string
  /** --github-api */
  githubApi?: string
  /** --github-timeout, in seconds. */
  githubTimeout?: number
  cluster?: string
  tag?: string
  remote?: string
  /** --smoke: the config variant whose smoke tests to run. */
  smoke?: string
  comment?: boolean
  recreate?: boolean
  /** --no-cache: false */
  cache?: boolean
  dryRun?: boolean
  teardown?: boolean
  renderer?: RendererName
  /** --progress-interval, in seconds. */
  progressInterval?: number
  /** --junit, absolute. */
  junitFile?: string
}

/** Resolves to the exit status: 0 passed, 1 a step (or the comment) failed, 2 bad input, 130 interrupted. */
export async function prCommand(options: PrCommandOptions, deps: CliDeps): Promise<number> {
  // Everything the command line says is checked before GitHub is asked; --cluster also by the rule of the config's deployer.
  const flagApi = options.githubApi === undefined ? undefined : checkApiFlag(options.githubApi)
  const timeoutMs = checkTimeout(options.githubTimeout)
  const config = await loadConfigFor(deps, options.config)
  const deployerPlugin = config.plugins.find((plugin) => plugin.kind === 'deployer' && plugin.name === config.deployer.name)
  checkChoices(options, deployerPlugin?.clusterName)
  const configApi = config.github?.api
  const webHosts = [...new Set([flagApi, configApi].filter((api) => api !== undefined).map(webHostOf))]
  const ref = parseGitHubRef(options.url, { webHosts, argument: '<url>' })
  const api = apiForUrl(options.url, flagApi, configApi)
  const smoke = smokeTests(config, options.smoke)
  if (options.comment && ref.kind !== 'pull') {
    throw new UsageError(`--comment: expected a pull request URL to comment on, found a ${ref.kind} (${options.url})`)
  }
  const workflow = { ...findWorkflow(await deps.loadRegistry(), 'dev-loop'), id: 'pr' }

  const plain = options.renderer === 'json' ? deps.stderr : deps.stdout
  const interrupts = deps.interrupts()
  const reads = planReads(options, deps, interrupts, plain)
  try {
    const token = await findToken({ env: deps.env, host: webHostOf(api), run: reads.run })
    if (options.comment && token === undefined) {
      throw new UsageError('--comment: expected a GitHub token that may comment on the pull request, found none: set GITHUB_TOKEN or GH_TOKEN, or log in with gh auth login')
    }
    const warn = (message: string) => deps.stderr.write(`warning: ${message}\n`)
    if (token === undefined) {
      warn(`no GitHub token (GITHUB_TOKEN, GH_TOKEN or gh auth login): asking ${api} anonymously, which GitHub limits to 60 requests an hour and which cannot see private repositories`)
    }

    const octokit = createGitHubClient({ api, ...(token ? { token } : {}), timeoutMs, signal: interrupts.signal, onRetry: warn })
    const target = await resolveTarget(ref, { octokit, api, ...(token ? { token } : {}) })
    const derived = await derivePrVariant({ target, checkout: config.kubernetes.checkout, choices: options, smoke, deployer: config.deployer, run: reads.run })
    for (const message of target.warnings) warn(message)
    for (const message of derived.notes) warn(message)
    plain.write(formatPlan({ target, derived, config, api, token, smokeFrom: options.smoke }))

    const { runWorkflow } = await import('../engine/run/run-workflow.ts')
    const outcome = await runWorkflow({
      config: { ...config, variants: [derived.variant] },
      workflow,
      recreate: options.recreate,
      cache: options.cache,
      dryRun: options.dryRun,
      teardown: options.teardown,
      configArgs: options.config === undefined ? [] : ['--config', options.config],
      renderer: options.renderer,
      progressInterval: options.progressInterval,
      junitFile: options.junitFile,
      stdout: deps.stdout,
      stderr: deps.stderr,
      env: deps.env,
      isRoot: deps.isRoot,
      signal: interrupts.signal,
      force: interrupts.force,
    })
    if (!options.comment || target.pull === undefined || outcome.exitCode === 130) return outcome.exitCode
    if (options.dryRun) {
      plain.write(`Nothing was posted (--dry-run): without it, kspawn would comment on ${target.htmlUrl} with the result, or update its comment there.\n`)
      return outcome.exitCode
    }
    const variant = outcome.record.variants[0]!
    const body = commentBody({
      record: outcome.record,
      variant,
      from: target.from,
      sha: target.sha,
      image: derived.variant.deployer.image(derived.variant),
      cluster: derived.variant.cluster,
      deployer: derived.variant.deployer.name,
      version: readVersion(),
      ...(deps.home ? { home: deps.home } : process.env.HOME ? { home: process.env.HOME } : {}),
    })
    const { owner, repo, number } = target.pull
    try {
      const posted = await upsertComment({ octokit, owner, repo, number, body })
      plain.write(`${posted.action === 'created' ? 'Commented' : 'Updated the comment'} on pull request #${number}: ${posted.url}\n`)
      return outcome.exitCode
    } catch (error) {
      const failure = explainFailure(error, {
        what: `comment on pull request #${number} of ${owner}/${repo}`,
        missing: `no pull request #${number} in ${owner}/${repo}`,
        api,
        ...(token ? { token } : {}),
        permission: 'Commenting needs a classic token with the public_repo (or repo) scope, or a fine-grained one with write access to pull requests.',
      })
      deps.stderr.write(`${failure.message}\n`)
      return Math.max(outcome.exitCode, 1)
    }
  } finally {
    reads.dispose()
    interrupts.dispose()
  }
}

/**
 * What kspawn pr reads before its run (gh auth token, your checkout's remotes
 * and tags) goes through the runner as every command does: secrets kept out of
 * what is shown, and stopped with its process group on Ctrl-C. The run folder
 * is made only when the run starts, so this runner is in dry-run, which runs
 * the commands that only read and writes no log. Their events are printed with
 * --renderer verbose only, as `plan: $ <command>`: elsewhere the plan stays the
 * first thing kspawn pr prints, and the json stream starts with its run.
 */
function planReads(options: PrCommandOptions, deps: CliDeps, interrupts: Interrupts, out: Output): { run: StepIO['run']; dispose(): void } {
  const runner = createRunner({
    runDir: tmpdir(),
    dryRun: true,
    isRoot: deps.isRoot,
    emit: (event) => {
      if (options.renderer !== 'verbose') return
      if (event.kind === 'cmd') out.write(`${stepLabel(event)}: $ ${event.commandLine}\n`)
      if (event.kind === 'output') out.write(`${stepLabel(event)}: ${event.line}\n`)
    },
  })
  const abort = () => void runner.abort(String(interrupts.signal.reason))
  // The process exits right after a second signal: its commands, each in a process group of its own, go first.
  const kill = () => void runner.kill(String(interrupts.force.reason))
  interrupts.signal.addEventListener('abort', abort)
  interrupts.force.addEventListener('abort', kill)
  return {
    run: (command) => runner.run(command, { id: 'plan' }),
    dispose() {
      interrupts.signal.removeEventListener('abort', abort)
      interrupts.force.removeEventListener('abort', kill)
    },
  }
}

function checkApiFlag(value: string): string {
  const why = apiUrlProblem(value)
  if (why !== undefined) {
    const found = hasCredentials(value) ? 'a URL with credentials' : `"${value}"`
    throw new UsageError(`--github-api: expected a GitHub API URL, such as https://github.example.com/api/v3, found ${found} (${why})`)
  }
  return normalApiUrl(value)
}

function checkTimeout(seconds: number | undefined): number {
  if (seconds === undefined) return 30_000
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--github-timeout: expected a number of seconds above 0, found ${seconds}`)
  return seconds * 1000
}

/** The config's top-level smoke tests, or with --smoke those of one of its variants. */
function smokeTests(config: Config, from: string | undefined): Tester[] {
  if (from === undefined) return config.smoke ?? []
  const variant = config.variants.find((candidate) => candidate.name === from)
  if (variant === undefined) {
    throw new UsageError(`--smoke: expected a variant of ${config.file} whose smoke tests to run (${config.variants.map((candidate) => candidate.name).join(', ')}), found "${from}"`)
  }
  return variant.smoke
}

interface PlanFacts {
  target: Target
  derived: PrVariant
  config: Config
  api: string
  token: GitHubToken | undefined
  smokeFrom: string | undefined
}

/** What will be run, shown before any work starts. */
function formatPlan({ target, derived, config, api, token, smokeFrom }: PlanFacts): string {
  const { variant, remote } = derived
  const rows: [string, string][] = [
    ['code', target.from],
    ...(target.pull ? [['base', `${target.pull.base.fullName} ${target.pull.base.ref} at ${target.pull.base.sha.slice(0, 12)}${derived.baseVersion ? ` (${derived.baseVersion})` : ''}`] as [string, string]] : []),
    ['remote', `${remote.name} ${remote.url}${remote.existing ? ' (already in your checkout)' : ' (added to your checkout)'}`],
    ['variant', variant.name],
    ['image', variant.deployer.image(variant)],
    ['cluster', `${variant.cluster} (${variant.deployer.name})`],
    ['smoke', variant.smoke.length === 0 ? 'none (the config has no top-level smoke tests; pick a variant\'s with --smoke <variant>)' : `${variant.smoke.map((tester) => tester.describe()).join('; ')}${smokeFrom ? ` (from variant ${smokeFrom})` : ' (from the config)'}`],
    ['github', `${api}${token ? `, with the token from ${token.source}` : ', anonymously'}`],
  ]
  const width = Math.max(...rows.map(([label]) => label.length))
  return [`kspawn pr: ${target.title}`, `  ${target.htmlUrl}`, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`), ''].join('\n')
}
