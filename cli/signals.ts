// Ctrl-C and SIGTERM during a run: the first one interrupts the run, which
// stops its commands and records where it stopped; a second one, before that
// is done, kills the commands, has the run record and print where it stopped
// at once, and exits.

export interface Interrupts {
  /** Aborted by the first signal, with the signal's name as its reason. */
  signal: AbortSignal
  /**
   * Aborted by a second signal, with its name as its reason. Its listeners
   * run at once and must finish synchronously: kspawn exits 130 right after.
   */
  force: AbortSignal
  dispose(): void
}

export function watchProcessSignals(): Interrupts {
  const controller = new AbortController()
  const forced = new AbortController()
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) return controller.abort(name)
    const first = String(controller.signal.reason)
    // While the animated list holds the terminal this is kept back, and printed below the list when the run lets go of it (Pipeline.letGo).
    process.stderr.write(`\n${name}${name === first ? ' again' : ` after ${first}`}: not waiting for the commands to stop: killing them and exiting\n`)
    forced.abort(name)
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return {
    signal: controller.signal,
    force: forced.signal,
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    },
  }
}
