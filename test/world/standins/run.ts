// Running commands (always as argv arrays) and writing in the style of Go's
// log package with log.SetFlags(0): to stderr, one newline added when missing.
import { spawn } from 'node:child_process'
import { constants, accessSync } from 'node:fs'
import { delimiter, join } from 'node:path'

export interface Result {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  /** Where the child's stdout and stderr go: captured (default) or copied to ours as well. */
  stdout?: 'capture' | 'inherit'
  stderr?: 'capture' | 'inherit' | 'stdout'
  input?: string
}

export function run(argv: string[], options: RunOptions = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (options.stdout === 'inherit') process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      if (options.stderr === 'inherit') process.stderr.write(chunk)
      else if (options.stderr === 'stdout') process.stdout.write(chunk)
    })
    child.on('error', (error) => resolve({ code: 127, stdout, stderr: stderr + `${error.message}\n` }))
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }))
    // A command that exits without reading its stdin closes the pipe: EPIPE here is not a failure.
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}

export function docker(args: string[], options: RunOptions = {}): Promise<Result> {
  return run(['docker', ...args], options)
}

/** exec.LookPath */
export function lookPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return null
}

/** log.Print with log.SetFlags(0) */
export function logPrint(message: string): void {
  process.stderr.write(message.endsWith('\n') ? message : message + '\n')
}

/** log.Fatal: print, then exit 1 at once (other work in flight is abandoned, as in Go). */
export function logFatal(message: string): never {
  logPrint(message)
  process.exit(1)
}

/** Go's %q for the strings kube-spawn quotes (paths, names, command lines). */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, '\\x$1')
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
