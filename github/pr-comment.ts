// `kspawn pr --comment`: the run's result as one comment on the pull request,
// found again by a marker and updated in place on every rerun.
import type { Octokit } from '@octokit/rest'
import type { RunRecord, VariantRecord } from '../engine/run/run-state.ts'
import type { SmokeResult } from '../engine/run/task.ts'

/** Hidden in the comment's Markdown; the comment kspawn updates is the one that has it. */
export const COMMENT_MARKER = '<!-- kspawn pr result -->'

export interface CommentFacts {
  record: RunRecord
  variant: VariantRecord
  /** e.g. `kinvolk/kubernetes alban/v1.8.5-beta.0-denyattach at 0123456789ab`. */
  from: string
  sha: string
  image: string
  cluster: string
  deployer: string
  version: string
  /** Folders whose paths are not shown on GitHub (the user's home), replaced by `~`. */
  home?: string
  now?: () => Date
}

/** The comment's Markdown: what was built, where it ran, and each smoke test's result. */
export function commentBody(facts: CommentFacts): string {
  const { variant } = facts
  const tidy = (text: string) => oneLine(facts.home ? text.split(facts.home).join('~') : text)
  const headline =
    variant.status === 'passed'
      ? (variant.state.smoke?.length ?? 0) > 0
        ? 'passed: the smoke tests pass'
        : 'passed (there were no smoke tests)'
      : variant.status === 'interrupted'
        ? `was interrupted at ${variant.stoppedAt ?? 'a step'}`
        : variant.stoppedAt === 'smoke-test'
          ? 'failed: a smoke test failed'
          : `failed at ${variant.stoppedAt ?? 'a step'}`
  const mark = variant.status === 'passed' ? '✅' : variant.status === 'interrupted' ? '⚠️' : '❌'
  const lines = [
    COMMENT_MARKER,
    `### ${mark} kspawn ${headline}`,
    '',
    `Commit \`${facts.sha.slice(0, 12)}\` (${facts.from}), built as \`${facts.image}\` and run on the ${facts.deployer} cluster \`${facts.cluster}\`.`,
  ]
  if (variant.state.gitVersion) lines.push(`The build's version: \`${variant.state.gitVersion}\`.`)
  const failed = variant.tasks.find((task) => task.status === 'failed' || task.status === 'interrupted')
  if (failed && failed.id !== 'smoke-test' && failed.message) lines.push('', `${failed.id}: ${tidy(failed.message)}`)
  const smoke = variant.state.smoke ?? []
  if (smoke.length > 0) {
    lines.push('', '| Smoke test | Result | Seen |', '| --- | --- | --- |')
    for (const result of smoke) lines.push(`| ${cell(result.expectation)} | ${result.passed ? '✅ passed' : '❌ failed'} | ${seenCell(result, tidy)} |`)
  }
  const when = (facts.now ?? (() => new Date()))().toISOString().slice(0, 16).replace('T', ' ')
  lines.push('', `<sub>kspawn ${facts.version}, ${when} UTC. Rerunning kspawn pr with --comment updates this comment.</sub>`, '')
  return lines.join('\n')
}

export interface UpsertOptions {
  octokit: Octokit
  owner: string
  repo: string
  number: number
  body: string
}

export interface UpsertResult {
  action: 'created' | 'updated'
  url: string
}

/** Updates the comment with the marker that the token's user wrote (the latest, if several), or creates one. */
export async function upsertComment({ octokit, owner, repo, number, body }: UpsertOptions): Promise<UpsertResult> {
  // A GitHub App's token may not read /user (403): its comments are then known by the marker alone.
  const login = await octokit.rest.users.getAuthenticated().then(
    ({ data }) => data.login,
    (error: unknown) => {
      if ((error as { status?: number }).status === 403) return undefined
      throw error
    },
  )
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 })
  // The marker opens kspawn's comments; someone quoting one has "> " first.
  const mine = comments.filter((comment) => (login === undefined || comment.user?.login === login) && comment.body?.startsWith(COMMENT_MARKER))
  const existing = mine.at(-1)
  if (existing !== undefined) {
    const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body })
    return { action: 'updated', url: data.html_url }
  }
  const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: number, body })
  return { action: 'created', url: data.html_url }
}

function oneLine(text: string): string {
  const first = text.trim().split('\n')[0] ?? ''
  return first.length > 300 ? `${first.slice(0, 297)}...` : first
}

/** Printed lines a Seen cell shows: enough for a Forbidden line with kubectl's prompt before it and the exit after it. */
const SEEN_LINES = 3

/**
 * What a smoke test saw, as the reader of the pull request needs it: for a
 * failure the sentence that says so, then the last lines its command printed
 * (what the cluster answered), not the command line, which proves nothing.
 */
function seenCell(result: SmokeResult, tidy: (text: string) => string): string {
  const printed = result.observed
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('$ '))
    .slice(-SEEN_LINES)
  const parts = [...(result.passed ? [] : [result.message ?? `expected ${result.expectation}`]), ...printed]
  return parts.map((part) => cell(tidy(part))).join('<br>')
}

/** Text in a Markdown table cell: one line, pipes escaped, and no HTML (kubectl prints `<none>`, which GitHub would take for a tag). */
function cell(text: string): string {
  return oneLine(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|')
}
