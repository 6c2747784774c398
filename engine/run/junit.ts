// junit.xml: a run's results in the JUnit shape that CI systems read
// (testsuites > testsuite > testcase > failure | error). One suite per
// variant: a test case for each smoke-test expectation, and one for each step
// that failed or was interrupted. Made from the run's record alone (state.json),
// whose messages and smoke results are those the summary prints: already
// redacted, so no secret reaches the file.
import { renameSync, writeFileSync } from 'node:fs'
import type { RunRecord, VariantRecord } from './run-state.ts'

export const JUNIT_FILE = 'junit.xml'

interface TestCase {
  classname: string
  name: string
  /** Seconds. */
  time: number
  outcome?: { kind: 'failure' | 'error'; message: string; text: string; type: string }
}

export function formatJunit(record: RunRecord): string {
  const suites = record.variants.map((variant) => ({ variant, cases: testCases(variant) }))
  const count = (cases: TestCase[], kind: 'failure' | 'error') => cases.filter((testCase) => testCase.outcome?.kind === kind).length
  const all = suites.flatMap((suite) => suite.cases)
  const runTime = record.endedAt ? seconds(Date.parse(record.endedAt) - Date.parse(record.startedAt)) : 0
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attributes({ name: `kspawn ${record.workflow}`, tests: all.length, failures: count(all, 'failure'), errors: count(all, 'error'), skipped: 0, time: runTime })}>`,
  ]
  for (const { variant, cases } of suites) {
    const time = seconds(variant.tasks.reduce((sum, task) => sum + (task.durationMs ?? 0), 0))
    const suite = { name: variant.name, tests: cases.length, failures: count(cases, 'failure'), errors: count(cases, 'error'), skipped: 0, time, timestamp: record.startedAt }
    lines.push(`  <testsuite${attributes(suite)}>`)
    lines.push(`    <properties>`, `      <property${attributes({ name: 'kspawn.run', value: record.id })}/>`, `      <property${attributes({ name: 'kspawn.status', value: variant.status })}/>`, `    </properties>`)
    for (const testCase of cases) {
      const head = `    <testcase${attributes({ classname: testCase.classname, name: testCase.name, time: testCase.time })}`
      const { outcome } = testCase
      if (!outcome) {
        lines.push(`${head}/>`)
        continue
      }
      lines.push(`${head}>`, `      <${outcome.kind}${attributes({ message: outcome.message, type: outcome.type })}>${escapeText(outcome.text)}</${outcome.kind}>`, `    </testcase>`)
    }
    lines.push('  </testsuite>')
  }
  lines.push('</testsuites>', '')
  return lines.join('\n')
}

/** Writes the file whole, then renames it into place: synchronous, so that a run ending at once (a second Ctrl-C) still leaves it. */
export function writeJunit(file: string, record: RunRecord): void {
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, formatJunit(record))
  renameSync(temporary, file)
}

function testCases(variant: VariantRecord): TestCase[] {
  const cases: TestCase[] = []
  for (const result of variant.state.smoke ?? []) {
    const testCase: TestCase = { classname: `kspawn.${variant.name}.smoke`, name: result.expectation, time: 0 }
    if (!result.passed) {
      const message = result.message ?? `expected: ${result.expectation}`
      testCase.outcome = { kind: 'failure', type: 'smoke-test', message, text: `${message}\nseen:\n${result.observed}` }
    }
    cases.push(testCase)
  }
  const steps = variant.tasks.filter((task) => task.status === 'failed' || task.status === 'interrupted')
  for (const task of steps) {
    const message = task.message ?? `${task.id} ${task.status}`
    const kind = task.status === 'failed' ? 'failure' : 'error'
    const text = task.logFile ? `${message}\nlog: ${task.logFile}` : message
    cases.push({ classname: `kspawn.${variant.name}.steps`, name: task.id, time: seconds(task.durationMs ?? 0), outcome: { kind, type: task.status, message: firstLine(message), text } })
  }
  // A variant that stopped before a step began (a run interrupted between steps): no step failed, yet CI must not see it pass.
  if (steps.length === 0 && (variant.status === 'failed' || variant.status === 'interrupted') && variant.stoppedAt !== undefined) {
    const kind = variant.status === 'failed' ? 'failure' : 'error'
    const message = `${variant.name} ${variant.status === 'failed' ? 'failed' : 'was interrupted'} before ${variant.stoppedAt} started`
    cases.push({ classname: `kspawn.${variant.name}.steps`, name: variant.stoppedAt, time: 0, outcome: { kind, type: variant.status, message, text: message } })
  }
  return cases
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? ''
}

function seconds(ms: number): number {
  return Number.isFinite(ms) ? Math.max(0, ms) / 1000 : 0
}

function attributes(values: Record<string, string | number>): string {
  return Object.entries(values)
    .map(([key, value]) => ` ${key}="${escapeAttribute(String(value))}"`)
    .join('')
}

/**
 * Characters XML 1.0 does not allow even as references (most control
 * characters, such as the escape of a colour code, and lone surrogates),
 * shown instead as \x1b or \ud800 so that the file stays well-formed.
 */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

function visible(text: string): string {
  return text.replace(NOT_XML, (char) => {
    const code = char.charCodeAt(0)
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

export function escapeText(text: string): string {
  return visible(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** As text, and the quotes; tabs and line ends as references, which an XML reader would otherwise turn into spaces. */
export function escapeAttribute(text: string): string {
  return escapeText(text).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;')
}
