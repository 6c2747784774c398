import { execFile, spawn, type ChildProcess } from 'node:child_process'

// The world's Docker engine, always through argv arrays (DOCKER_HOST comes from
// the environment the emulator was started with).

export class DockerError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`docker ${args[0] ?? ''} failed (${code}): ${stderr.trim()}`)
  }
}

export function docker(args: string[], opts: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, { maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 60_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof err.code === 'number' ? err.code : null
        reject(new DockerError(args, code, String(stderr || err.message)))
      } else resolve({ stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

export function dockerSpawn(args: string[]): ChildProcess {
  return spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] })
}

/** `docker inspect` of several objects at once; missing ones are simply absent from the result. */
export async function inspectContainers(ids: string[]): Promise<ContainerInspect[]> {
  if (ids.length === 0) return []
  try {
    const { stdout } = await docker(['container', 'inspect', ...ids])
    return JSON.parse(stdout) as ContainerInspect[]
  } catch (err) {
    // inspect prints what it found on stdout and fails for the rest.
    if (err instanceof DockerError) {
      const found: ContainerInspect[] = []
      for (const id of ids) {
        try {
          const { stdout } = await docker(['container', 'inspect', id])
          found.push(...(JSON.parse(stdout) as ContainerInspect[]))
        } catch {
          /* gone */
        }
      }
      return found
    }
    throw err
  }
}

export async function imageId(ref: string): Promise<string | undefined> {
  try {
    const { stdout } = await docker(['image', 'inspect', '--format', '{{.Id}}', ref])
    return stdout.trim() || undefined
  } catch {
    return undefined
  }
}

export interface ContainerInspect {
  Id: string
  Name: string
  Created: string
  Image: string
  /** The main process's arguments (after the entrypoint's path). */
  Args?: string[]
  RestartCount: number
  State: {
    Status: string
    Running: boolean
    Restarting: boolean
    OOMKilled: boolean
    Dead: boolean
    Pid: number
    ExitCode: number
    Error: string
    StartedAt: string
    FinishedAt: string
  }
  Config: { Image: string; Labels: Record<string, string> | null; Hostname: string }
  NetworkSettings: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> }
}
