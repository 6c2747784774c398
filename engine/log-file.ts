import type { WriteStream } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import { StepError } from './errors.ts'

/** A step's log file, appended to. A write error is kept for the caller to report once. */
export class LogFile {
  error: Error | undefined

  private constructor(private readonly stream: WriteStream) {
    stream.on('error', (error) => (this.error ??= error))
  }

  /** Opens now, so that a folder that cannot be written fails the step before anything runs. */
  static async open(file: string, step: string): Promise<LogFile> {
    try {
      await mkdir(path.dirname(file), { recursive: true })
      const handle = await open(file, 'a')
      // Large enough to batch the many small writes of a command that prints fast.
      return new LogFile(handle.createWriteStream({ highWaterMark: 1024 * 1024 }))
    } catch (error) {
      throw new StepError(`${step} cannot write its log file ${file}: ${(error as Error).message}`, { cause: error })
    }
  }

  write(text: string): void {
    if (!this.stream.destroyed) this.stream.write(text)
  }

  /** Calls done once the file takes more, which holds back a command that prints faster than the disk writes. */
  ready(done: () => void): void {
    if (!this.stream.writableNeedDrain || this.stream.destroyed) return done()
    const go = () => {
      this.stream.off('drain', go).off('close', go)
      done()
    }
    this.stream.on('drain', go).on('close', go)
  }

  async close(last: string): Promise<void> {
    if (!this.stream.destroyed) this.stream.end(last)
    await finished(this.stream).catch(() => {})
  }
}
