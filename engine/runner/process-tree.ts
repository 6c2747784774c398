import { setTimeout as sleep } from 'node:timers/promises'

// Each command runs as the leader of its own process group (pgid = its pid),
// so signalling -pgid reaches everything it started: make, compilers, docker
// clients, grandchildren of grandchildren.

/** Sends a signal to every process of the group; false once the group is gone. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ESRCH') return false
    // Members we may not signal (root children of sudo) still mean the group lives.
    if (code === 'EPERM') return true
    throw error
  }
}

/** SIGTERM to the whole group, then SIGKILL to what is left after graceMs. */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return
  const deadline = performance.now() + graceMs
  while (performance.now() < deadline) {
    await sleep(Math.min(50, graceMs))
    if (!signalGroup(pgid, 0)) return
  }
  signalGroup(pgid, 'SIGKILL')
}
