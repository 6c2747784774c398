// The git that kspawn runs. Reads go through simple-git, which parses what
// git prints (status, worktree lists); each read shows as a command event.
// Every git command that changes something goes through the runner instead,
// built here as an argv: it lands in the step's log, and dry-run prints it
// rather than running it.
import { simpleGit, GitError, type SimpleGit, type StatusResult } from 'simple-git'
import { formatCommandLine } from '../engine/runner/command-line.ts'
import { StepError } from '../engine/errors.ts'
import { stepLabel } from '../engine/run/events.ts'
import type { Command } from '../engine/runner/runner.ts'
import type { Step } from '../engine/run/step-io.ts'

/** Variables that point git at another repository, index or object store than the folder a command names. */
const REPOSITORY_VARIABLES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE']

/** A git command that changes something; GIT_DIR and the like from kspawn's own environment (a git hook's) must not redirect it. */
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

/**
 * The remote name for a URL: its owner, as in the article's `kinvolk` for
 * https://github.com/kinvolk/kubernetes; for a local repository, which has no
 * owner, its folder name without `.git`.
 */
export function remoteNameFor(url: string): string {
  const local = url.startsWith('file://') ? url.slice('file://'.length) : url.startsWith('/') ? url : undefined
  // https://host/owner/repo, ssh://user@host/owner/repo or user@host:owner/repo
  const hosted = local === undefined ? (/^[a-z][a-z0-9+.-]*:\/\/[^/]+\/(.+)$/i.exec(url) ?? /^[^/@:]+@[^/:]+:(.+)$/.exec(url))?.[1] : undefined
  const segments = (hosted ?? local ?? url).split('/').filter(Boolean)
  const owner = hosted !== undefined && segments.length >= 2 ? segments.at(-2) : segments.at(-1)?.replace(/\.git$/, '')
  const name = (owner ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+|[.-]+$/g, '')
  return name === '' ? 'kspawn' : name
}

/**
 * Two spellings of one repository: a trailing `/` or `.git` makes no
 * difference, nor does reaching a host over https or ssh
 * (https://github.com/o/r, git@github.com:o/r.git and ssh://git@github.com/o/r
 * are one repository).
 */
export function sameRemote(a: string, b: string): boolean {
  return remoteIdentity(a) === remoteIdentity(b)
}

function remoteIdentity(url: string): string {
  const trimmed = url.replace(/\/+$/, '').replace(/\.git$/, '')
  const hosted = /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?([^/:]+)(?::\d+)?\/(.+)$/i.exec(trimmed) ?? /^(?:[^/@:]+@)?([^/:]+):(?!\/)(.+)$/.exec(trimmed)
  if (!hosted || trimmed.startsWith('/') || /^file:/i.test(trimmed)) return trimmed
  return `${hosted[1]!.toLowerCase()}/${hosted[2]!.replace(/^\/+/, '')}`
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
