// A build step that prints 1 GiB, run through the runner (log file, events,
// tail) in a fresh node process, against the same shell command writing to
// /dev/null and to a plain file. Targets: the runner's process stays under
// 150 MB peak RSS, and its wall time within 1.3x of the command to /dev/null.
// Writing to a file is the floor of any runner that logs every byte, so its
// ratio is shown too. The cases take turns and the medians are reported, as
// the machine may be busy with other work.
//
//   node --import tsx bench/runner-memory.ts [runs] [bytes]     (default 3 runs of 1 GiB)

import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const MAX_RSS_MB = 150
const MAX_RATIO = 1.3

interface ChildReport {
  wallMs: number
  /** Peak RSS of the process once the runner is loaded, before the command runs. */
  loadedRss: number
  peakRss: number
  logBytes: number
  events: number
}

const script = (bytes: number) => `yes 'building k8s.io/kubernetes/pkg/...' | head -c ${bytes}`
const peakRss = () => process.resourceUsage().maxRSS * 1024

if (process.argv[2] === '--child') {
  // One run through the runner, in this fresh process: reports JSON on stdout.
  const [runDir, bytes] = [process.argv[3] as string, Number(process.argv[4])]
  const { createRunner } = await import('../engine/runner/runner.ts')
  const loadedRss = peakRss()
  let events = 0
  const runner = createRunner({ runDir, dryRun: false, emit: () => events++ })
  const started = performance.now()
  const result = await runner.run({ argv: ['sh', '-c', script(bytes)] }, { id: 'build' })
  const wallMs = performance.now() - started
  const logBytes = (await stat(result.logFile as string)).size
  const report: ChildReport = { wallMs, loadedRss, peakRss: peakRss(), logBytes, events }
  console.log(JSON.stringify(report))
} else {
  const runs = Number(process.argv[2] ?? 3)
  const bytes = Number(process.argv[3] ?? 1024 ** 3)
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-bench-'))
  const timeShell = (target: string) => {
    const started = performance.now()
    spawnSync('sh', ['-c', `${script(bytes)} >> ${target}`], { stdio: 'ignore' })
    return performance.now() - started
  }
  const samples = { devNull: [] as number[], file: [] as number[], runner: [] as ChildReport[] }
  try {
    for (let run = 0; run < runs; run++) {
      samples.devNull.push(timeShell('/dev/null'))

      const plain = path.join(dir, 'plain.log')
      samples.file.push(timeShell(plain))
      await rm(plain)

      const runDir = path.join(dir, 'run')
      const self = fileURLToPath(import.meta.url)
      const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', runDir, String(bytes)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      if (child.status !== 0) throw new Error(`the runner's process failed with ${child.status ?? child.signal}`)
      const report = JSON.parse(child.stdout) as ChildReport
      if (report.logBytes < bytes) throw new Error(`the log has ${report.logBytes} bytes, fewer than the ${bytes} printed`)
      samples.runner.push(report)
      await rm(runDir, { recursive: true })
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`
  const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`
  const devNull = median(samples.devNull)
  const file = median(samples.file)
  const runner = median(samples.runner.map((report) => report.wallMs))
  const rss = median(samples.runner.map((report) => report.peakRss))
  const ratio = runner / devNull
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL')

  console.log(`${(bytes / 1024 ** 2).toFixed(0)} MiB from \`${script(bytes)}\`, median of ${runs} runs`)
  console.log(`  to /dev/null            ${seconds(devNull)}`)
  console.log(`  to a file (>>)          ${seconds(file)}`)
  console.log(`  through the runner      ${seconds(runner)}  (${median(samples.runner.map((report) => report.events))} events)`)
  console.log(`  runner / file           ${(runner / file).toFixed(2)}x`)
  console.log(`  runner / /dev/null      ${ratio.toFixed(2)}x   target ${MAX_RATIO}x: ${verdict(ratio <= MAX_RATIO)}`)
  console.log(
    `  peak RSS                ${mb(rss)}  (${mb(median(samples.runner.map((report) => report.loadedRss)))} before the command)` +
      `   target ${MAX_RSS_MB} MB: ${verdict(rss < MAX_RSS_MB * 1e6)}`,
  )
}
