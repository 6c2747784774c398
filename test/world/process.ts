// Small process helpers shared by world:up and world:down.
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // The state follows the parenthesised command name, which may itself hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/**
 * Poll until ready() holds. Gives up after timeoutMs, or at once when
 * stillRunning() says the thing being waited for has died.
 */
export async function waitFor(
  what: string,
  timeoutMs: number,
  ready: () => boolean | Promise<boolean>,
  stillRunning: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await ready()) return
    if (!stillRunning()) throw new Error(`${what} exited while starting`)
    await sleep(200)
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`)
}

/** SIGTERM, then SIGKILL if it is still there after graceMs. Resolves once it is gone. */
export async function stop(pid: number, graceMs = 20_000): Promise<'stopped' | 'killed' | 'not running'> {
  if (!isAlive(pid)) return 'not running'
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped'
    await sleep(100)
  }
  process.kill(pid, 'SIGKILL')
  while (isAlive(pid)) await sleep(50)
  return 'killed'
}
