// The command line: argv in, exit status out. yargs parses and validates it;
// each command is a library function (cli/run.ts, cli/task.ts, ...) loaded
// only when it runs, so that `--help` does not pay for listr2, zx or the config.
// The lines people type most, a help, `kspawn list` and a Tab's completions, do not even load yargs
// (cli/shortcut.ts): starting it costs more than the answer.
import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import type { Argv } from 'yargs'
import { KspawnError } from '../engine/errors.ts'
import { parseProgressInterval, RENDERERS, type RendererName } from '../engine/terminal.ts'
import { defaultDeps, type CliDeps } from './deps.ts'
import { helpWidth, shortcutFor } from './shortcut.ts'
import { UsageProblems, withoutValueless } from './usage.ts'
import { readVersion } from './version.ts'

/** Runs one kspawn command line; resolves to its exit status. Never throws: errors are written to stderr. */
export async function main(argv: string[], overrides: Partial<CliDeps> = {}): Promise<number> {
  const deps = { ...defaultDeps(), ...overrides }
  const shortcut = shortcutFor(argv, deps.stdout.columns)
  if (shortcut === undefined) return parseAndRun(argv, deps)
  try {
    if ('complete' in shortcut) {
      const { completions } = await import('./complete.ts')
      const found = await completions(shortcut.complete, deps)
      if (found.length > 0) deps.stdout.write(`${found.join('\n')}\n`)
      return 0
    }
    if ('help' in shortcut) {
      const { helpTexts } = await import('./help-text.ts')
      deps.stdout.write(`${helpTexts[shortcut.help]}\n`)
      return 0
    }
    const { listCommand } = await import('./list.ts')
    return await listCommand(shortcut.list, deps)
  } catch (error) {
    return report(error, deps)
  }
}

/** main() without its shortcuts: the line parsed by yargs, whatever it is. */
export async function parseAndRun(argv: string[], deps: CliDeps): Promise<number> {
  const { default: yargs } = await import('yargs')
  let exitCode = 0
  const setExitCode = (code: number) => {
    exitCode = code
  }
  let output = ''
  // Every problem of the line, gathered across the passes below; the command refuses the line when there is one.
  const problems = new UsageProblems(argv)
  try {
    // yargs stops at an option without its value, before its other checks (and the command): the line
    // is parsed again without that option, until it has none, so that the other problems are found too.
    for (let line: string[] | undefined = argv; line !== undefined; ) {
      await parser(yargs(line), deps, problems, setExitCode).parseAsync(line, {}, (_error, _parsed, text) => {
        output = text
      })
      const valueless = problems.takeValueless()
      line = valueless === undefined ? undefined : withoutValueless(line, valueless)
    }
    // Problems that no command was there to report: an unknown command, or none.
    problems.check()
  } catch (error) {
    return report(error, deps)
  }
  // --help and --version: yargs hands over their text instead of printing it.
  if (output) deps.stdout.write(`${output}\n`)
  return exitCode
}

const junitOption = {
  type: 'string',
  requiresArg: true,
  describe: "also write the run's junit.xml (a test suite per variant: its smoke tests and the steps that failed) to this file",
} as const

const rendererOption = {
  choices: RENDERERS,
  requiresArg: true,
  describe: 'how to show progress: default (animated, on a terminal), simple (timestamped lines, when piped or CI is set), verbose (also each line of output), silent, json (the event stream as JSON lines)',
} as const

const jsonOption = { type: 'boolean', default: false, describe: 'print one JSON document on stdout instead of the text (its shape: docs/cli.md)' } as const

const progressIntervalOption = {
  type: 'string',
  requiresArg: true,
  describe: 'with plain output (simple, verbose): every this many seconds, a line for each step still running, with the time it has taken and its last output line; 0 for none (default: KSPAWN_PROGRESS_INTERVAL, else 30)',
} as const

function parser(cli: Argv, deps: CliDeps, problems: UsageProblems, setExitCode: (code: number) => void): Argv {
  return cli
    .scriptName('kspawn')
    // kspawn reads yargs' messages to say them in its own words, and speaks English.
    .locale('en')
    .usage('$0 <command>\n\nThe Kubernetes developer loop as code: fetch a patch, build it, spawn a cluster on it and smoke-test it, for several variants side by side.')
    .option('config', {
      type: 'string',
      global: true,
      requiresArg: true,
      describe: 'config file (default: the nearest kspawn.config.{ts,mts,js,mjs} here or in a folder above)',
    })
    .command(
      'run <workflow>',
      'run a workflow for every variant in the config, or those named with --variant',
      (command) =>
        command
          .positional('workflow', { type: 'string', demandOption: true, describe: 'the workflow (kspawn list shows them), e.g. dev-loop' })
          .option('variant', { type: 'string', array: true, requiresArg: true, describe: 'run this variant only; repeat for several' })
          .option('concurrency', { type: 'string', requiresArg: true, describe: 'variants running at once (default: all of them)' })
          .option('recreate', { type: 'boolean', default: false, describe: 'replace a cluster that already exists instead of refusing' })
          .option('cache', { type: 'boolean', default: true, describe: 'take builds from the build cache and keep new ones in it; --no-cache builds from the tree and pushes nothing' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'print each command that would change something, in order, on a line starting with "$ ", and run none' })
          .option('resume', { type: 'boolean', default: false, describe: "continue the latest run of this workflow: its variants, skipping the tasks it finished whose results are still there" })
          .option('teardown', { type: 'boolean', default: false, describe: "remove the run's clusters at the end, also when a smoke test failed" })
          .option('renderer', rendererOption)
          .option('progress-interval', progressIntervalOption)
          .option('junit', junitOption)
          .example('$0 run dev-loop', 'fetch, build, make the hyperkube image, spawn a cluster and smoke-test it, for every variant')
          .example('$0 run dev-loop --variant denyattach', 'the denyattach variant only (repeat --variant for more)')
          .example('$0 run dev-loop --dry-run', 'print the commands (git fetch, build/run.sh make or kind build node-image, kube-spawn create --dev or kind create cluster ...) and run none')
          .example('$0 run dev-loop --resume', 'continue an interrupted run where it stopped')
          .example('$0 run dev-loop --junit results/junit.xml', "also write the run's junit.xml there, for CI"),
      async (args) => {
        const { runCommand } = await import('./run.ts')
        setExitCode(
          await runCommand(
            {
              workflow: args.workflow,
              config: args.config,
              variants: args.variant,
              concurrency: concurrencyArg(args.concurrency, problems),
              recreate: args.recreate,
              cache: args.cache,
              dryRun: args['dry-run'],
              resume: args.resume,
              teardown: args.teardown,
              renderer: args.renderer as RendererName | undefined,
              progressInterval: progressIntervalArg(args['progress-interval'], problems),
              junitFile: junitArg(args.junit, deps.cwd, problems),
            },
            deps,
            problems,
          ),
        )
      },
    )
    .command(
      'task <task>',
      'run one task alone for one variant, from where its latest run left it',
      (command) =>
        command
          .positional('task', { type: 'string', demandOption: true, describe: 'the task (kspawn list shows them), e.g. build' })
          .option('variant', { type: 'string', requiresArg: true, describe: 'the variant to run it for (needed when the config has several)' })
          .option('recreate', { type: 'boolean', default: false, describe: 'replace a cluster that already exists instead of refusing' })
          .option('cache', { type: 'boolean', default: true, describe: 'take builds from the build cache and keep new ones in it; --no-cache builds from the tree and pushes nothing' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'print each command that would change something, and run none' })
          .option('renderer', rendererOption)
          .option('progress-interval', progressIntervalOption)
          .option('junit', junitOption)
          .example('$0 task build --variant denyattach', 'build/run.sh make in the worktree of the denyattach branch')
          .example('$0 task cluster-up --variant denyattach --recreate', 'bring the cluster up again through its deployer (kube-spawn create --dev and start, or kind create cluster), replacing it')
          .example('$0 task smoke-test --variant denyattachfix', 'check that kubectl attach is Forbidden, "rejected by DenyAttach"'),
      async (args) => {
        const { taskCommand } = await import('./task.ts')
        setExitCode(
          await taskCommand(
            {
              task: args.task,
              config: args.config,
              // An array when --variant is given more than once, which the command refuses.
              variant: args.variant as string | string[] | undefined,
              recreate: args.recreate,
              cache: args.cache,
              dryRun: args['dry-run'],
              renderer: args.renderer as RendererName | undefined,
              progressInterval: progressIntervalArg(args['progress-interval'], problems),
              junitFile: junitArg(args.junit, deps.cwd, problems),
            },
            deps,
            problems,
          ),
        )
      },
    )
    .command(
      'pr <url>',
      'fetch a GitHub pull request, commit or branch, build it, spawn a cluster on it and run the smoke tests from the config',
      (command) =>
        command
          .positional('url', {
            type: 'string',
            demandOption: true,
            describe: 'https://github.com/OWNER/REPO/pull/N (also /files, /commits, /commits/SHA), OWNER/REPO#N, .../commit/SHA or .../tree/BRANCH',
          })
          .option('cluster', { requiresArg: true, type: 'string', describe: 'the cluster (and variant) name; default pr<N>-<head owner>, or <branch>-<owner>, <sha>-<owner>' })
          .option('tag', { requiresArg: true, type: 'string', describe: 'the hyperkube image tag; default <base version>-pr<N>-<short sha>' })
          .option('remote', { requiresArg: true, type: 'string', describe: 'the remote to fetch through, added to your checkout unless one has the URL; default the head owner' })
          .option('smoke', { requiresArg: true, type: 'string', describe: "run this config variant's smoke tests instead of the top-level ones" })
          .option('comment', { type: 'boolean', default: false, describe: 'post the result as a comment on the pull request, updated in place on reruns (needs a token that may comment)' })
          .option('github-api', { requiresArg: true, type: 'string', describe: 'the GitHub API to ask, e.g. https://github.example.com/api/v3 (default: github.api in the config for its host, else https://api.github.com)' })
          .option('github-timeout', { requiresArg: true, type: 'number', describe: 'seconds to wait for each GitHub API answer (default 30)' })
          .option('recreate', { type: 'boolean', default: false, describe: 'replace the cluster if it exists (from an earlier run on the same pull request)' })
          .option('cache', { type: 'boolean', default: true, describe: 'take builds from the build cache and keep new ones in it; --no-cache builds from the tree and pushes nothing' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'ask GitHub, show the plan and print the commands that would change something, and run none' })
          .option('teardown', { type: 'boolean', default: false, describe: 'remove the cluster at the end, also when a smoke test failed' })
          .option('renderer', rendererOption)
          .option('progress-interval', progressIntervalOption)
          .option('junit', junitOption)
          .epilog(
            'The token is read from GITHUB_TOKEN, GH_TOKEN or `gh auth token`, and is never printed or stored; without one kspawn asks anonymously (public repositories, 60 requests an hour).',
          )
          .example('$0 pr kubernetes/kubernetes#123', 'build pull request 123, spawn cluster pr123-<author>, smoke-test it')
          .example('$0 pr kinvolk/kubernetes#7 --comment', 'the same, and the result as a comment on the pull request')
          .example('$0 pr <url> --smoke denyattachfix', "with the smoke tests of the config's variant denyattachfix")
          .example('$0 pr <url> --dry-run', 'ask GitHub, show the plan and the commands, run nothing'),
      async (args) => {
        if (args.url === undefined) problems.add('name the pull request, commit or branch to build: https://github.com/OWNER/REPO/pull/N, OWNER/REPO#N, .../commit/SHA or .../tree/BRANCH')
        const junitFile = junitArg(args.junit, deps.cwd, problems)
        problems.check()
        const { prCommand } = await import('./pr.ts')
        setExitCode(
          await prCommand(
            {
              url: args.url,
              config: args.config,
              githubApi: args['github-api'],
              githubTimeout: args['github-timeout'],
              cluster: args.cluster,
              tag: args.tag,
              remote: args.remote,
              smoke: args.smoke,
              comment: args.comment,
              recreate: args.recreate,
              cache: args.cache,
              dryRun: args['dry-run'],
              teardown: args.teardown,
              renderer: args.renderer as RendererName | undefined,
              progressInterval: progressIntervalArg(args['progress-interval'], problems),
              junitFile,
            },
            deps,
          ),
        )
      },
    )
    .command(
      'logs <variant> [step]',
      "print a step's log from the latest run of a variant: the step it is running or stopped at, or the one named",
      (command) =>
        command
          .positional('variant', { type: 'string', demandOption: true, describe: 'the variant (kspawn list shows them), e.g. denyattach' })
          .positional('step', { type: 'string', describe: 'the step, e.g. build (default: the one the variant is running or stopped at, else the last that ran)' })
          .option('follow', { type: 'boolean', default: false, describe: 'keep printing what the step writes while its run goes on; ends when the step ends, or at Ctrl-C' })
          .epilog('The log goes to stdout as the run wrote it; the step, run and file to stderr, on one line.')
          .example('$0 logs denyattach', 'the log of the step denyattach is running, or where it failed or was interrupted')
          .example('$0 logs denyattach build', 'the build log of the latest run of denyattach that has a build step')
          .example('$0 logs denyattach --follow', 'follow the running step, as tail -f does, until it ends')
          .example('$0 logs denyattach build > build.log', 'keep a copy of the log (the line about it goes to stderr)'),
      async (args) => {
        const { logsCommand } = await import('./logs.ts')
        setExitCode(await logsCommand({ variant: args.variant, step: args.step, follow: args.follow, config: args.config }, deps, problems))
      },
    )
    .command(
      'list',
      'list the workflows and their tasks, the tasks, and the variants of the config',
      (command) =>
        command
          .option('json', jsonOption)
          .example('$0 list', 'what `kspawn run` and `kspawn task` can do with kspawn.config.ts')
          .example('$0 list --json', 'the same as one JSON document (its shape: docs/cli.md)'),
      async (args) => {
        problems.check()
        const { listCommand } = await import('./list.ts')
        setExitCode(await listCommand({ config: args.config, ...(args.json ? { json: true } : {}) }, deps))
      },
    )
    .command(
      'clusters',
      "list the clusters kspawn made, with their state and KUBECONFIG lines, and the deployer's other clusters",
      (command) =>
        command
          .option('json', jsonOption)
          .example('$0 clusters', 'name, variant, image tag, nodes, and running/stopped/partly running/gone')
          .example('$0 clusters --json', 'the same as one JSON document (its shape: docs/cli.md)'),
      async (args) => {
        problems.check()
        const { clustersCommand } = await import('./clusters.ts')
        setExitCode(await clustersCommand({ config: args.config, json: args.json }, deps))
      },
    )
    .command(
      'down [clusters..]',
      'stop and destroy clusters kspawn made, and forget them',
      (command) =>
        command
          .positional('clusters', { type: 'string', array: true, describe: 'the clusters (kspawn clusters shows them)' })
          .option('all', { type: 'boolean', default: false, describe: 'every cluster kspawn made' })
          .option('force', { type: 'boolean', default: false, describe: 'also remove a named cluster that kspawn did not make, or that a running kspawn run uses' })
          .option('dry-run', { type: 'boolean', default: false, describe: "print the deployer's commands (kube-spawn stop and destroy, kind delete cluster), and run none" })
          .example('$0 down denyattach', "through the deployer that made it: kube-spawn stop and destroy -c denyattach, or kind delete cluster --name denyattach")
          .example('$0 down --all', 'every cluster kspawn made'),
      async (args) => {
        problems.check()
        const { downCommand } = await import('./down.ts')
        setExitCode(
          await downCommand(
            { clusters: (args.clusters ?? []).map(String), all: args.all, force: args.force, dryRun: args['dry-run'], config: args.config },
            deps,
          ),
        )
      },
    )
    .command(
      'doctor',
      'check that the tools and services the configured loop needs are there, and say how to get what is missing',
      (command) =>
        command
          .option('json', jsonOption)
          .example('$0 doctor', 'git, docker and its daemon, make, kube-spawn, kubectl, and sudo when not root')
          .example('$0 doctor --json', 'each check as JSON (its shape: docs/cli.md); the exit status is the same'),
      async (args) => {
        problems.check()
        const { doctorCommand } = await import('./doctor.ts')
        setExitCode(await doctorCommand({ config: args.config, json: args.json }, deps))
      },
    )
    .command(
      'completion',
      'print the bash or zsh script that completes kspawn\'s commands, options, workflows, tasks, variants and clusters on Tab',
      (command) =>
        command
          .option('shell', { choices: ['bash', 'zsh'] as const, requiresArg: true, describe: 'the shell to complete in (default: zsh when $SHELL or $ZSH_NAME names it, else bash)' })
          .example('$0 completion >> ~/.bashrc', 'complete kspawn in every new bash')
          .example('$0 completion --shell zsh >> ~/.zshrc', 'the same for zsh'),
      async (args) => {
        problems.check()
        const { completionScript } = await import('./complete.ts')
        const zsh = [deps.env.SHELL, deps.env.ZSH_NAME].some((value) => value?.includes('zsh'))
        deps.stdout.write(completionScript(args.shell ?? (zsh ? 'zsh' : 'bash')))
      },
    )
    .example('$0 doctor', 'check that the tools the config needs are there')
    .example('$0 list', 'the workflows, tasks and variants of kspawn.config.ts')
    .example('$0 run dev-loop', 'fetch, build, make the image, spawn a cluster and smoke-test it, for every variant')
    .example('$0 run dev-loop --dry-run', 'the commands it would run, in order; none is run')
    .example('$0 task smoke-test --variant denyattach', 'one step again, from where the last run left the variant')
    .example('$0 logs denyattach --follow', "the log of the variant's current step, followed while the run goes on")
    .example('$0 clusters', "kspawn's clusters, their state and export KUBECONFIG=... lines")
    .example('$0 down denyattach', 'stop and destroy a cluster kspawn made')
    .example('$0 completion >> ~/.bashrc', 'complete commands, workflows, variants and clusters on Tab')
    .epilog(
      [
        'Exit status: 0 every variant passed (or the command did what it was asked); 1 a step failed, or doctor found something missing; 2 bad usage or config, nothing was run; 130 interrupted (Ctrl-C).',
        '',
        "Each command's options and examples: kspawn <command> --help. The manual: README.md, docs/cli.md (the commands, --json shapes, exit status) and docs/config.md (the config file), in kspawn's repository and in its package (the folder of kspawn's package.json).",
      ].join('\n'),
    )
    .demandCommand(1, 'name a command: run, task, pr, logs, list, clusters, down, doctor or completion')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .version(readVersion())
    .wrap(helpWidth(deps.stdout.columns))
    .exitProcess(false)
    .fail((message, error) => {
      // yargs calls this both for its own validation and for errors thrown by a command.
      // yargs's own errors (YError, e.g. an option without its value) are usage problems too:
      // gathered, and yargs goes on checking the line (see UsageProblems).
      if (error && error.name !== 'YError') throw error
      problems.addFromYargs(message ?? error?.message ?? '', optionsOf(cli))
    })
}

/** --concurrency as given: a whole number of variants, 1 or more. */
function concurrencyArg(value: string | undefined, problems: UsageProblems): number | undefined {
  if (value === undefined) return undefined
  if (/^\d+$/.test(value) && Number(value) >= 1) return Number(value)
  problems.add(`--concurrency must be a whole number of variants, 1 or more; found "${value}"`, { help: true })
  return undefined
}

/** --progress-interval as given: seconds, 0 or more. */
function progressIntervalArg(value: string | undefined, problems: UsageProblems): number | undefined {
  if (value === undefined) return undefined
  const seconds = parseProgressInterval(value)
  if (seconds === undefined) problems.add(`--progress-interval must be a number of seconds, 0 or more (0: no progress lines); found "${value}"`, { help: true })
  return seconds
}

/**
 * --junit as an absolute path, once it is known that the file can be written
 * there: checked before anything runs, as a run that cannot leave its report
 * where CI looks for it is no use to CI. A problem of the line otherwise.
 */
function junitArg(value: string | undefined, cwd: string, problems: UsageProblems): string | undefined {
  if (value === undefined) return undefined
  const file = path.resolve(cwd, value)
  const folder = path.dirname(file)
  const problem = (what: string) => problems.add(`--junit ${value}: ${what}`, { help: true })
  const stat = (where: string) => {
    try {
      return statSync(where)
    } catch {
      return undefined
    }
  }
  const writable = (where: string) => {
    try {
      accessSync(where, constants.W_OK)
      return true
    } catch {
      return false
    }
  }
  if (value.trim() === '') return void problem('expected a file to write, e.g. --junit junit.xml')
  const folderStat = stat(folder)
  if (folderStat === undefined) return void problem(`its folder ${folder} does not exist`)
  if (!folderStat.isDirectory()) return void problem(`${folder} is not a folder`)
  if (stat(file)?.isDirectory()) return void problem(`${file} is a folder; name a file in it, e.g. --junit ${path.join(value, 'junit.xml')}`)
  if (!writable(folder)) return void problem(`cannot write in its folder ${folder}`)
  return file
}

/**
 * The options of the command yargs is parsing (its builder has run on this
 * instance by the time yargs fails) and the global ones, without its
 * positionals, --help and --version: what an unknown option could have been.
 */
function optionsOf(cli: Argv): string[] {
  // Methods of yargs 18 that @types/yargs 17 does not declare.
  const instance = cli as unknown as { getOptions(): { key: Record<string, unknown>; boolean: string[]; default: Record<string, unknown> }; getGroups(): Record<string, string[]> }
  const positionals = instance.getGroups()['Positionals:'] ?? []
  const options = instance.getOptions()
  // A switch that is on by default is typed as its negation (--no-cache).
  const typed = (key: string) => (options.boolean.includes(key) && options.default[key] === true ? `no-${key}` : key)
  return Object.keys(options.key)
    .filter((key) => !positionals.includes(key) && key !== 'help' && key !== 'version')
    .map(typed)
}

function report(error: unknown, deps: CliDeps): number {
  if (error instanceof KspawnError) {
    deps.stderr.write(`${error.message}\n`)
    return error.exitCode
  }
  const message = error instanceof Error ? error.message : String(error)
  deps.stderr.write(`kspawn: ${message}\n`)
  return 1
}
