// Where kspawn writes for people, and how: whether the output is a terminal,
// whether it may be coloured, and which renderer suits it.

/** What kspawn writes to: process.stdout, or any object with a write method (tests capture output this way). */
export interface Output {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
  rows?: number
}

export type Env = Record<string, string | undefined>

export const RENDERERS = ['default', 'simple', 'verbose', 'silent', 'json'] as const
export type RendererName = (typeof RENDERERS)[number]

/** --progress-interval and KSPAWN_PROGRESS_INTERVAL: seconds as written on a command line or in the environment: a number, 0 or more; undefined when it is not one. */
export function parseProgressInterval(text: string): number | undefined {
  return /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : undefined
}

/** `CI=false` and `CI=0` are ways of saying no. */
export function isCI(env: Env): boolean {
  const ci = env.CI
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0'
}

/**
 * The renderer asked for, or: the animated one on a terminal, plain
 * timestamped lines when the output is piped or a CI job reads it.
 */
export function chooseRenderer(requested: RendererName | undefined, stdout: Output, env: Env): RendererName {
  if (requested) return requested
  return stdout.isTTY === true && !isCI(env) && env.TERM !== 'dumb' ? 'default' : 'simple'
}

/** NO_COLOR (https://no-color.org) wins; FORCE_COLOR colours a pipe; otherwise colour on a terminal only. */
export function useColor(stdout: Output, env: Env): boolean {
  if (env.NO_COLOR) return false
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false'
  return stdout.isTTY === true && env.TERM !== 'dumb'
}

// SGR sequences only: cursor movement, which the animated renderer needs, is kept.
const SGR = /\x1b\[[\d;]*m/g

export function stripColor(text: string): string {
  return text.replace(SGR, '')
}

/** The same output with colours removed from whatever is written to it. */
export function withoutColor(output: Output): Output {
  return {
    write: (text: string) => output.write(stripColor(String(text))),
    get isTTY() {
      return output.isTTY
    },
    get columns() {
      return output.columns
    },
    get rows() {
      return output.rows
    },
  }
}

export interface Style {
  green(text: string): string
  red(text: string): string
  yellow(text: string): string
  dim(text: string): string
  bold(text: string): string
}

const sgr = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`

export function createStyle(color: boolean): Style {
  if (!color) {
    const plain = (text: string) => text
    return { green: plain, red: plain, yellow: plain, dim: plain, bold: plain }
  }
  return { green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39), dim: sgr(2, 22), bold: sgr(1, 22) }
}
