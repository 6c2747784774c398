// Events as JSON lines: the run's events.jsonl and the `--renderer json`
// stream are the same lines, each event with the time it happened.
import { closeSync, openSync, writeSync } from 'node:fs'
import type { EventListener, KspawnEvent } from './events.ts'
import type { Output } from '../terminal.ts'

export function formatEventLine(event: KspawnEvent, time: Date = new Date()): string {
  return `${JSON.stringify({ time: time.toISOString(), ...event })}\n`
}

export function printEvents(output: Output): EventListener {
  return (event) => output.write(formatEventLine(event))
}

export interface EventLog {
  listener: EventListener
  /** Closes the file; resolves to the error that stopped logging, if any. */
  close(): Promise<Error | undefined>
}

/**
 * Appends every event to a file, each written before the event's emitter goes
 * on: a run that ends at once (a second Ctrl-C) still leaves every event it
 * emitted. A write error stops logging and is reported once, at close.
 */
export function openEventLog(file: string): EventLog {
  let fd: number | undefined
  let error: Error | undefined
  try {
    fd = openSync(file, 'a')
  } catch (cause) {
    error = cause as Error
  }
  const stop = () => {
    if (fd !== undefined) closeSync(fd)
    fd = undefined
  }
  return {
    listener: (event) => {
      if (fd === undefined) return
      try {
        writeSync(fd, formatEventLine(event))
      } catch (cause) {
        error ??= cause as Error
        stop()
      }
    },
    async close() {
      stop()
      return error
    },
  }
}
