// The git that kspawn runs. Reads go through simple-git, which parses what
// git prints (status, worktree lists); each read shows as a command event.
// Every git command that changes something goes through the runner instead,
// built here as an argv: it lands in the step's log, and dry-run prints it
// rather than running it. So do the reads of `kspawn pr`, made before a run
// exists (github/pr-variant.ts). Remote URLs are read here too, by one parser.
// simple-git is loaded by the first read: commands that read nothing with git
// (kspawn list, whose plugins import this module) do not pay for it.
import type { SimpleGit, StatusResult } from 'simple-git'
import { formatCommandLine } from '../engine/runner/command-line.ts'
import { StepError } from '../engine/errors.ts'
import { stepLabel } from '../engine/run/events.ts'
import type { Command } from '../engine/runner/runner.ts'
import type { Step } from '../engine/run/step-io.ts'

/** Variables that point git at another repository, index or object store than the folder a command names. */
const REPOSITORY_VARIABLES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE']

/** A git command on the repository it names; GIT_DIR and the like from kspawn's own environment (a git hook's) must not redirect it. */
export function gitCommand(argv: string[], cwd: string): Command {
  return { argv, cwd, env: Object.fromEntries(REPOSITORY_VARIABLES.map((name) => [name, undefined])) }
}

export function remoteAddArgv(checkout: string, name: string, url: string): string[] {
  return ['git', '-C', checkout, 'remote', 'add', name, url]
}

/**
 * Fetches into the checkout's object store. No tags and no FETCH_HEAD: the
 * only refs that change are the ones the refspecs name.
 */
export function fetchArgv(checkout: string, remote: string, refspecs: string[]): string[] {
  return ['git', '-C', checkout, 'fetch', '--no-tags', '--no-write-fetch-head', remote, ...refspecs]
}

/** `--force` takes over a path that git still lists as a worktree although its folder is gone. */
export function worktreeAddArgv(checkout: string, worktree: string, commit: string, options: { force?: boolean } = {}): string[] {
  return ['git', '-C', checkout, 'worktree', 'add', ...(options.force ? ['--force'] : []), '--detach', worktree, commit]
}

/** Moves a clean worktree to another commit, detached. */
export function detachArgv(worktree: string, commit: string): string[] {
  return ['git', '-C', worktree, 'checkout', '--detach', commit]
}

/** Where a remote URL points: a repository on a host, or one on this machine. */
export interface RemoteLocation {
  /** Lower case, without user or port; absent for a local repository. */
  host?: string
  /** The repository's path: on a host without the leading `/`; without a trailing `/` or `.git`. */
  path: string
}

/**
 * A remote URL in the forms git takes: <scheme>://[user@]host[:port]/path
 * (https, ssh, git...), [user@]host:path (scp-like, no `/` before the colon),
 * file:///path, and local paths.
 */
export function parseRemoteUrl(url: string): RemoteLocation {
  const clean = (path: string) => path.replace(/\/+$/, '').replace(/\.git$/, '').replace(/\/+$/, '')
  const withScheme = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(.*)$/i.exec(url)
  if (withScheme) {
    const [, scheme = '', authority = '', path = ''] = withScheme
    if (scheme.toLowerCase() === 'file') return { path: clean(path) }
    return { host: authority.replace(/^.*@/, '').replace(/:\d*$/, '').toLowerCase(), path: clean(path.replace(/^\/+/, '')) }
  }
  const scpLike = /^(?:[^/@:]+@)?([^/:]+):(.*)$/.exec(url)
  if (scpLike) return { host: scpLike[1]!.toLowerCase(), path: clean(scpLike[2]!.replace(/^\/+/, '')) }
  return { path: clean(url) }
}

/**
 * The remote name for a URL: its owner, as in the article's `kinvolk` for
 * https://github.com/kinvolk/kubernetes; for a local repository, which has no
 * owner, its folder name without `.git`.
 */
export function remoteNameFor(url: string): string {
  const { host, path } = parseRemoteUrl(url)
  const segments = path.split('/').filter(Boolean)
  return remoteName((host !== undefined && segments.length >= 2 ? segments.at(-2) : segments.at(-1)) ?? '', 'kspawn')
}

/** A name git takes for a remote, from any text: other characters become "-", and it neither starts nor ends with "." or "-". */
export function remoteName(text: string, fallback: string): string {
  const name = text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '')
  return name === '' ? fallback : name
}

/**
 * Two spellings of one repository: a trailing `/` or `.git` makes no
 * difference, nor does reaching a host over https or ssh
 * (https://github.com/o/r, git@github.com:o/r.git and ssh://git@github.com/o/r
 * are one repository), nor file:// before a local path.
 */
export function sameRemote(a: string, b: string): boolean {
  const [one, other] = [parseRemoteUrl(a), parseRemoteUrl(b)]
  return one.host === other.host && one.path === other.path
}

export interface GitReader {
  /** `git <args>` in the reader's folder: its stdout, trimmed. Fails with a StepError saying what git said. */
  read(args: string[]): Promise<string>
  /** Like read(), but undefined when git exits non-zero: for questions such as `rev-parse --verify --quiet`. */
  tryRead(args: string[]): Promise<string | undefined>
  status(): Promise<StatusResult>
}

/** simple-git in one folder, its commands reported as the step's own. */
export function gitReader(dir: string, step: Step): GitReader {
  let loaded: Promise<GitReader> | undefined
  const reader = () => (loaded ??= import('simple-git').then((simpleGit) => simpleGitReader(simpleGit, dir, step)))
  return {
    read: async (args) => (await reader()).read(args),
    tryRead: async (args) => (await reader()).tryRead(args),
    status: async () => (await reader()).status(),
  }
}

function simpleGitReader({ simpleGit, GitError }: typeof import('simple-git'), dir: string, step: Step): GitReader {
  let running: { commandLine: string; started: number } | undefined
  const git: SimpleGit = simpleGit({
    baseDir: dir,
    // One at a time, so that each command's end event pairs with its start.
    maxConcurrentProcesses: 1,
    abort: step.signal,
    trimmed: true,
    errors(error, result) {
      if (running) {
        const { commandLine, started } = running
        step.emit({ kind: 'end', ...step.source, commandLine, exitCode: result.exitCode, signal: null, durationMs: Math.round(performance.now() - started) })
        running = undefined
      }
      if (error) return error
      // Any non-zero exit is a failure, also one that printed nothing (simple-git's default lets those pass).
      return result.exitCode === 0 ? undefined : Buffer.concat([...result.stdOut, ...result.stdErr])
    },
  }).outputHandler((_binary, _stdout, _stderr, args) => {
    running = { commandLine: formatCommandLine(['git', ...args]), started: performance.now() }
    step.emit({ kind: 'cmd', ...step.source, commandLine: running.commandLine, cwd: dir, dryRun: false })
  })

  const failed = (args: string[], error: unknown): never => {
    if (!(error instanceof GitError)) throw error
    const said = error.message.trim().split('\n').slice(-5).map((line) => `    ${line}`)
    throw new StepError([`${stepLabel(step.source)} failed: ${formatCommandLine(['git', ...args])} (in ${dir})`, ...said].join('\n'), { cause: error })
  }
  return {
    read: (args) => git.raw(args).catch((error: unknown) => failed(args, error)),
    tryRead: (args) =>
      git.raw(args).catch((error: unknown) => {
        if (error instanceof GitError) return undefined
        throw error
      }),
    status: () => git.status().catch((error: unknown) => failed(['status'], error)),
  }
}
