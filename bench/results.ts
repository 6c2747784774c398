// Shared by the benchmarks: medians, and bench/RESULTS.md, where each
// benchmark owns one section headed by its title and rewrites only that.
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sh } from '../test/world/harness.ts'

const resultsFile = join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md')

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The machine a result was measured on, as one line. */
export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`
}

export async function recordResult(title: string, body: string[]): Promise<void> {
  let text: string
  try {
    text = await readFile(resultsFile, 'utf8')
  } catch {
    text = '# Benchmark results\n\nEach section is rewritten by its benchmark; the machines are shared and noisy, so compare the ratios measured in one run, not absolute times across sections.\n'
  }
  const section = [`## ${title}`, '', `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}.`, '', ...body, ''].join('\n')
  const start = text.indexOf(`\n## ${title}\n`)
  if (start === -1) {
    text = text.trimEnd() + '\n\n' + section
  } else {
    const next = text.indexOf('\n## ', start + 1)
    text = text.slice(0, start + 1) + section + (next === -1 ? '' : text.slice(next))
  }
  await writeFile(resultsFile, text.trimEnd() + '\n')
}

/** Seconds a command takes to its end, as a user runs it in CI (plain output); it must succeed. */
export async function timed(argv: string[], cwd: string): Promise<number> {
  const start = process.hrtime.bigint()
  const result = await sh(argv, { cwd, env: { CI: 'true', NO_COLOR: '1' } })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (result.exitCode !== 0) throw new Error(`${argv.join(' ')} exited with ${result.exitCode}\n${result.output.slice(-3000)}`)
  return seconds
}
