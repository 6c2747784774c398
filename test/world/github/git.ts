// What the GitHub emulator reads from the world's bare repositories: it
// answers with the SHAs, messages and files of real commits.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface CommitInfo {
  sha: string
  tree: string
  parents: string[]
  author: { name: string; email: string; date: string }
  committer: { name: string; email: string; date: string }
  message: string
  files: { filename: string; status: 'added' | 'removed' | 'modified' | 'renamed'; additions: number; deletions: number }[]
}

async function git(repo: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', repo, ...args], { maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

/** The full SHA of a commit named by SHA (full or abbreviated), branch or tag; undefined when there is none or it is ambiguous. */
export async function resolveCommit(repo: string, ref: string): Promise<string | undefined> {
  try {
    return (await git(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`])).trim()
  } catch {
    return undefined
  }
}

/** The SHA a branch points at; undefined when the branch does not exist. */
export function resolveBranch(repo: string, branch: string): Promise<string | undefined> {
  return resolveCommit(repo, `refs/heads/${branch}`)
}

export async function readCommit(repo: string, sha: string): Promise<CommitInfo> {
  const [header, numstat, nameStatus] = await Promise.all([
    git(repo, ['show', '-s', '--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B', sha]),
    git(repo, ['diff-tree', '-r', '--root', '--no-commit-id', '--numstat', sha]),
    git(repo, ['diff-tree', '-r', '--root', '--no-commit-id', '--name-status', sha]),
  ])
  const [full = '', tree = '', parents = '', an = '', ae = '', ad = '', cn = '', ce = '', cd = '', ...message] = header.split('\0')
  const statuses = new Map(
    nameStatus
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [status = '', ...names] = line.split('\t')
        return [names.at(-1) ?? '', status[0] === 'A' ? 'added' : status[0] === 'D' ? 'removed' : status[0] === 'R' ? 'renamed' : 'modified'] as const
      }),
  )
  const files = numstat
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [additions = '0', deletions = '0', filename = ''] = line.split('\t')
      // Binary files show "-" for both counts.
      return { filename, status: statuses.get(filename) ?? 'modified', additions: Number(additions) || 0, deletions: Number(deletions) || 0 }
    })
  return {
    sha: full.trim(),
    tree,
    parents: parents.split(' ').filter(Boolean),
    author: { name: an, email: ae, date: ad },
    committer: { name: cn, email: ce, date: cd },
    message: message.join('\0').trimEnd(),
    files,
  }
}

/** The commits reachable from `head` and not from `base`, oldest first. */
export async function listCommits(repo: string, base: string, head: string): Promise<string[]> {
  return (await git(repo, ['rev-list', '--reverse', `${base}..${head}`])).split('\n').filter(Boolean)
}

/** Makes `refs/pull/N/head` of the base repository point at the PR's head, as GitHub keeps it even after the fork is gone. */
export async function syncPullRef(base: string, head: string, headRef: string, number: number): Promise<void> {
  await git(base, ['fetch', '--quiet', '--no-tags', '--force', head, `refs/heads/${headRef}:refs/pull/${number}/head`])
}
