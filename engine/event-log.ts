// Events as JSON lines: the run's events.jsonl and the `--renderer json`
// stream are the same lines, each event with the time it happened.
import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import type { EventListener, KspawnEvent } from './events.ts'
import type { Output } from './terminal.ts'

export function formatEventLine(event: KspawnEvent, time: Date = new Date()): string {
  return `${JSON.stringify({ time: time.toISOString(), ...event })}\n`
}

export function printEvents(output: Output): EventListener {
  return (event) => output.write(formatEventLine(event))
}

export interface EventLog {
  listener: EventListener
  /** Flushes what was written; resolves to the write error, if writing failed. */
  close(): Promise<Error | undefined>
}

/** Appends every event to a file; a write error stops logging and is reported once, at close. */
export function openEventLog(file: string): EventLog {
  const stream = createWriteStream(file, { flags: 'a' })
  let error: Error | undefined
  stream.on('error', (cause) => (error ??= cause))
  return {
    listener: (event) => {
      if (!stream.destroyed) stream.write(formatEventLine(event))
    },
    async close() {
      if (!stream.destroyed) stream.end()
      await finished(stream).catch(() => {})
      return error
    },
  }
}
