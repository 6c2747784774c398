// Secrets are replaced before text reaches events, log files, errors or tails,
// so a value that must stay secret is never written anywhere.

export const REDACTED = '***'

/** Environment variables whose values are treated as secrets, and which commands do not inherit. */
export const SECRET_ENV_NAME = /TOKEN|PASSWORD|SECRET/i

export interface Redactor {
  redact(text: string): string
  /**
   * Where streamed text may be cut so that no secret straddles the cut: at or
   * after `at`, and never inside a secret. Text after the cut must be held
   * back, at least `holdBack` characters, until more arrives.
   */
  safeCut(text: string, at: number): number
  /** characters to keep when cutting a line that has no end yet */
  readonly holdBack: number
}

export function secretsFromEnv(env: Record<string, string | undefined> = {}): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_ENV_NAME.test(name) && value)
    .map(([, value]) => value as string)
}

export function createRedactor(secrets: Iterable<string>): Redactor {
  // Output is redacted line by line, so a multi-line secret (a key file) is
  // matched by each of its lines.
  const parts = new Set<string>()
  for (const secret of secrets) {
    for (const line of secret.split(/\r?\n/)) if (line.trim()) parts.add(line)
  }
  if (parts.size === 0) return { redact: (text) => text, safeCut: (_, at) => at, holdBack: 0 }

  // Longest first, so a secret containing another one is replaced whole.
  const sorted = [...parts].sort((a, b) => b.length - a.length)
  const pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g')
  return {
    redact: (text) => text.replace(pattern, REDACTED),
    safeCut(text, at) {
      let cut = at
      for (const match of text.matchAll(pattern)) {
        if (match.index >= cut) break
        cut = Math.max(cut, match.index + match[0].length)
      }
      return cut
    },
    holdBack: (sorted[0] as string).length - 1,
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
