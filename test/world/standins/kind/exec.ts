// kind's exec package: commands as argv arrays, their output captured (stdout
// and stderr together, in arrival order) for the RunError a failure gives,
// and optionally passed on to ours (exec.InheritOutput).
import { spawn } from 'node:child_process'
import { RunError } from './errors.ts'

export interface ExecOptions {
  input?: string
  /** Copy the command's stdout to ours and its stderr to ours, as it runs. */
  inherit?: boolean
  env?: NodeJS.ProcessEnv
}

export interface Output {
  stdout: string
  /** stdout and stderr, interleaved. */
  combined: string
}

/** Runs argv; a non-zero exit (or a failure to start) throws a RunError with all it printed. */
export function exec(argv: string[], options: ExecOptions = {}): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let combined = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      combined += chunk.toString()
      if (options.inherit) process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      combined += chunk.toString()
      if (options.inherit) process.stderr.write(chunk)
    })
    child.on('error', (error) => reject(new RunError(argv, combined, error.message)))
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, combined })
      else reject(new RunError(argv, combined, signal ? `signal: ${signal === 'SIGKILL' ? 'killed' : signal}` : `exit status ${code}`))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}

/** Output lines of a command that must succeed (exec.OutputLines). */
export async function outputLines(argv: string[], options: ExecOptions = {}): Promise<string[]> {
  return (await exec(argv, options)).stdout.split('\n').filter((line) => line !== '')
}
