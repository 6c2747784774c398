// What a run ends with on the terminal: for each variant, whether it passed,
// where it failed or stopped and why, what its smoke tests saw, and how to
// reach its cluster; then where the run's logs are.
import { quoteArg } from '../runner/command-line.ts'
import type { RunRecord, VariantRecord } from './run-state.ts'
import type { TeardownResult } from './teardown.ts'
import { createStyle, type Style } from '../terminal.ts'

export interface SummaryOptions {
  color: boolean
  /** The run's folder; absent in dry-run. */
  dir?: string
  /** In dry-run: how many commands were printed instead of run. */
  printedCommands?: number
  /** The command that continues an interrupted or failed run, e.g. `kspawn run dev-loop --resume`. */
  resumeCommand?: string
  /** Each variant's cluster, by variant name: the summary says how to remove the ones left up. */
  clusters?: Readonly<Record<string, string>>
  /** The command that removes a cluster, as it can be pasted; `kspawn down <cluster>` by default. */
  downCommand?: (cluster: string) => string
  /** With --teardown: what became of each cluster the run brought up, by variant name. */
  teardown?: ReadonlyMap<string, TeardownResult>
}

export function formatSummary(record: RunRecord, options: SummaryOptions): string {
  const style = createStyle(options.color)
  const lines = ['', headline(record, options, style)]
  for (const variant of record.variants) lines.push(...variantLines(variant, record.dryRun, style), ...clusterLines(variant, record.dryRun, options))
  if (options.resumeCommand && record.status !== 'passed' && !record.dryRun) {
    lines.push(`To continue where it stopped: ${options.resumeCommand}`)
  }
  if (options.dir) lines.push(`Run folder: ${options.dir}`)
  return `${lines.join('\n')}\n`
}

function headline(record: RunRecord, options: SummaryOptions, style: Style): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
  const variants = record.variants
  const passed = variants.filter((variant) => variant.status === 'passed').length
  const failed = variants.filter((variant) => variant.status === 'failed').length
  const name = style.bold(record.workflow)
  if (record.dryRun) {
    const printed = count(options.printedCommands ?? 0, 'command')
    const failures = failed === 0 ? '' : `; ${failed} of ${count(variants.length, 'variant')} failed`
    return `${name} (dry run): ${printed} printed for ${count(variants.length, 'variant')}, none run${failures}`
  }
  if (record.status === 'interrupted') return `${name} ${style.yellow(`was interrupted${record.interruptedBy ? ` by ${record.interruptedBy}` : ''}`)}`
  const outcome = `${passed} of ${count(variants.length, 'variant')} passed`
  return `${name}: ${failed === 0 ? style.green(outcome) : `${outcome}, ${style.red(`${failed} failed`)}`}`
}

function variantLines(variant: VariantRecord, dryRun: boolean, style: Style): string[] {
  const lines: string[] = []
  const indent = (text: string, spaces: number) => text.split('\n').map((line) => `${' '.repeat(spaces)}${line}`)
  const stopped = variant.tasks.find((task) => task.id === variant.stoppedAt)
  switch (variant.status) {
    case 'passed':
      lines.push(`  ${style.green('✔')} ${variant.name} ${dryRun ? 'planned' : 'passed'}`)
      break
    case 'failed':
      lines.push(`  ${style.red('✖')} ${variant.name} failed at ${variant.stoppedAt}`)
      if (stopped?.message) lines.push(...indent(stopped.message, 6))
      break
    case 'interrupted': {
      const done = variant.tasks.filter((task) => task.status === 'done' || task.status === 'skipped').map((task) => task.id)
      const notRun = variant.tasks.filter((task) => task.status === 'not-run' && task.id !== variant.stoppedAt).map((task) => task.id)
      const where = stopped?.status === 'not-run' ? `before ${variant.stoppedAt}` : `during ${variant.stoppedAt}`
      const progress = [done.length ? `done: ${done.join(', ')}` : '', notRun.length ? `not run: ${notRun.join(', ')}` : '']
      const detail = progress.filter(Boolean).join('; ')
      lines.push(`  ${style.yellow('■')} ${variant.name} stopped ${where}${detail ? ` (${detail})` : ''}`)
      if (stopped?.message) lines.push(...indent(stopped.message, 6))
      break
    }
    case 'running':
      lines.push(`  ${style.yellow('■')} ${variant.name} did not finish`)
      break
  }
  for (const result of variant.state.smoke ?? []) {
    const mark = result.passed ? style.green('✔') : style.red('✖')
    lines.push(`      ${mark} ${result.expectation}`)
    if (result.observed) lines.push(...indent(result.observed, 14).map((line, i) => (i === 0 ? `        seen: ${line.trimStart()}` : line)))
  }
  // What the cluster really ran, so that nobody mistakes which build they tested.
  const { binaries, built, controlPlane, kubeadmNote, shared } = variant.state
  if (built && !dryRun) lines.push(`      build: ${built}`)
  if (controlPlane) lines.push(`      control plane: ${controlPlane}`)
  if (binaries) lines.push(`      kubeadm, kubelet: ${binaries.dir} (${binaries.gitVersion}, ${binaries.from})`)
  if (kubeadmNote) lines.push(`      kubeadm check: ${kubeadmNote}`)
  if (shared) lines.push(`      shared: ${shared}`)
  if (variant.state.kubeconfig && !dryRun) lines.push(`      export KUBECONFIG=${quoteArg(variant.state.kubeconfig)}`)
  return lines
}

/** Whether --teardown removed the variant's cluster, or how to remove the one left up. */
function clusterLines(variant: VariantRecord, dryRun: boolean, options: SummaryOptions): string[] {
  const cluster = options.clusters?.[variant.name]
  const teardown = options.teardown?.get(variant.name)
  if (teardown) {
    if (!teardown.removed) return (teardown.message ?? '').split('\n').map((line) => `      ${line}`)
    return [`      cluster ${teardown.cluster} ${dryRun ? 'would be removed' : 'removed'} (--teardown)`]
  }
  if (dryRun) return []
  const down = (name: string) => options.downCommand?.(name) ?? `kspawn down ${name}`
  const halfMade = variant.state.halfMadeCluster
  // What a removal cut short left: said before the cluster, which removing also removes it with.
  const left = (variant.state.leftBehind ?? []).map((what) => `      left behind: ${what}`)
  if (halfMade !== undefined) return [...left, `      cluster ${halfMade} was not brought up and is left half made; remove it with: ${down(halfMade)}`]
  if (variant.state.clusterGone) return [...left, `      ${variant.state.clusterGone}`]
  if (cluster === undefined || variant.state.kubeconfig === undefined) return left
  return [...left, `      the cluster stays up; remove it with: ${down(cluster)}`]
}
