import type { WriteStream } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { finished } from 'node:stream/promises'
import { StepError } from '../errors.ts'

/** Where a step's log goes under the run's folder, unless the step names its own: <variant>/<step>.log (kspawn logs reads it there). */
export function defaultLogFile(step: { id: string; variant?: string }): string {
  const safe = (name: string) => (/^\.*$/.test(name) ? '_' : name.replace(/[^\w.-]/g, '_'))
  return path.join(...(step.variant ? [safe(step.variant)] : []), `${safe(step.id)}.log`)
}

/** A step's log file, appended to. A write error is kept for the caller to report once. */
export class LogFile {
  error: Error | undefined

  private constructor(
    private readonly handle: FileHandle,
    private readonly stream: WriteStream,
  ) {
    stream.on('error', (error) => (this.error ??= error))
  }

  /** Opens now, so that a folder that cannot be written fails the step before anything runs. */
  static async open(file: string, step: string): Promise<LogFile> {
    try {
      await mkdir(path.dirname(file), { recursive: true })
      // Readable too, to follow what a child writes into it.
      const handle = await open(file, 'a+')
      // Large enough to batch the many small writes of a command that prints fast.
      return new LogFile(handle, handle.createWriteStream({ highWaterMark: 1024 * 1024 }))
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

  /**
   * For a child that writes into the file itself: waits until all text written
   * so far is in the file, then gives the descriptor (opened for append) and
   * the size, where the child's output starts. Undefined once writing failed.
   */
  async handOver(): Promise<{ fd: number; start: number } | undefined> {
    // An empty write calls back after every write before it.
    await new Promise((resolve) => this.stream.write('', resolve))
    if (this.error || this.stream.destroyed) return undefined
    return { fd: this.handle.fd, start: (await this.handle.stat()).size }
  }

  /** The last bytes of the file, at most `length` and none before `from`, with the offset they start at. */
  async readEnd(from: number, length: number): Promise<{ position: number; bytes: Buffer }> {
    const { size } = await this.handle.stat()
    const position = Math.max(from, size - length)
    const bytes = Buffer.alloc(Math.max(0, size - position))
    const { bytesRead } = await this.handle.read(bytes, 0, bytes.length, position)
    return { position, bytes: bytes.subarray(0, bytesRead) }
  }

  async close(last: string): Promise<void> {
    if (!this.stream.destroyed) this.stream.end(last)
    await finished(this.stream).catch(() => {})
  }
}
