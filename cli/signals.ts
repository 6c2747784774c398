// Ctrl-C and SIGTERM during a run: the first one interrupts the run, which
// stops its commands and records where it stopped; a second one exits at once.

export interface Interrupts {
  /** Aborted with the signal's name as its reason. */
  signal: AbortSignal
  dispose(): void
}

export function watchProcessSignals(): Interrupts {
  const controller = new AbortController()
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) return controller.abort(name)
    process.stderr.write(`\n${name} again: exiting without waiting for the commands to stop\n`)
    // The animated list hides the cursor until it ends, which it will not do now.
    if (process.stdout.isTTY) process.stdout.write('\x1b[?25h')
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
