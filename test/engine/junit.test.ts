// junit.xml at the end of a run: a suite per variant, a case per smoke-test
// expectation and per failed or interrupted step, read back with a strict
// XML reader and held against state.json and the shape CI systems accept.
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { StepError } from '../../engine/errors.ts'
import { escapeAttribute, escapeText, formatJunit } from '../../engine/run/junit.ts'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { runWorkflow } from '../../engine/run/run-workflow.ts'
import { capture, fakeTask, tempProject, type TempProject } from './workflow-helpers.ts'
import { parseXml, type XmlElement } from './xml.ts'

let project: TempProject
test.before.each(async () => {
  project = await tempProject(['passing', 'smokefail', 'broken', 'stopped'])
})
test.after.each(async () => {
  await project.cleanup()
})

const SEEN = 'Error from server: <attach> & "allowed"\u001b[31m red\u0000'

/** The JUnit shape: testsuites > testsuite[name,tests,failures,errors,skipped,time] > testcase[classname,name,time] > failure|error|skipped. */
function checkShape(root: XmlElement): void {
  assert.is(root.name, 'testsuites')
  const number = (element: XmlElement, key: string) => {
    const value = element.attributes[key]
    assert.ok(value !== undefined && /^\d+(\.\d+)?$/.test(value), `${element.name} ${key}="${value}"`)
    return Number(value)
  }
  let tests = 0
  let failures = 0
  let errors = 0
  for (const suite of root.children) {
    assert.is(suite.name, 'testsuite')
    assert.ok(suite.attributes.name, 'a suite has a name')
    for (const key of ['time', 'skipped']) number(suite, key)
    const cases = suite.children.filter((child) => child.name === 'testcase')
    assert.ok(suite.children.every((child) => child.name === 'testcase' || child.name === 'properties'), 'a suite holds properties and test cases')
    for (const testCase of cases) {
      assert.ok(testCase.attributes.classname && testCase.attributes.name, 'a case has a classname and a name')
      number(testCase, 'time')
      assert.ok(testCase.children.length <= 1 && testCase.children.every((child) => ['failure', 'error', 'skipped'].includes(child.name)))
      for (const child of testCase.children) if (child.name !== 'skipped') assert.ok(child.attributes.message !== undefined, 'a failure or error has a message')
    }
    const outcome = (kind: string) => cases.filter((testCase) => testCase.children[0]?.name === kind).length
    assert.is(number(suite, 'tests'), cases.length)
    assert.is(number(suite, 'failures'), outcome('failure'))
    assert.is(number(suite, 'errors'), outcome('error'))
    tests += cases.length
    failures += outcome('failure')
    errors += outcome('error')
  }
  assert.is(number(root, 'tests'), tests)
  assert.is(number(root, 'failures'), failures)
  assert.is(number(root, 'errors'), errors)
}

test('a run writes junit.xml, also to --junit, with the smoke expectations and the failed and interrupted steps of state.json', async () => {
  const interrupt = new AbortController()
  const smoke = fakeTask('smoke-test', {
    run: async (ctx) => {
      const failing = ctx.variant.name === 'smokefail'
      ctx.state.smoke = [
        { expectation: 'a pod runs', passed: true, observed: 'pod/smoke Running' },
        { expectation: 'attach is denied with /rejected by/', passed: !failing, observed: SEEN, ...(failing ? { message: 'attach was allowed: expected it to be denied with /rejected by/' } : {}) },
      ]
      if (failing) throw new StepError('smoke-test (smokefail) failed: 1 of 2 expectations not met')
    },
  })
  const build = fakeTask('build', {
    run: async (ctx, services) => {
      if (ctx.variant.name === 'broken') throw new StepError('build (broken) failed: build/run.sh make exited with code 2\n  last lines: <oops> & "quotes"\t\u001b[0m')
      if (ctx.variant.name === 'stopped') {
        // Ctrl-C as the build starts: the other variants, run before it, have ended.
        interrupt.abort('SIGINT')
        await services.runner.run({ argv: ['sleep', '30'] }, { id: 'build', variant: ctx.variant.name })
      }
    },
  })
  const junitFile = path.join(project.dir, 'ci', 'report.xml')
  await mkdir(path.dirname(junitFile))
  const stdout = capture()
  const outcome = await runWorkflow({
    config: project.config,
    workflow: { id: 'dev-loop', description: 'the test loop', tasks: [fakeTask('fetch-source'), build, smoke] },
    renderer: 'silent',
    concurrency: 1,
    stdout,
    stderr: stdout,
    env: {},
    signal: interrupt.signal,
    junitFile,
  })
  assert.is(outcome.exitCode, 130, stdout.text())
  const runDir = outcome.dir!
  const text = await readFile(path.join(runDir, 'junit.xml'), 'utf8')
  assert.is(await readFile(junitFile, 'utf8'), text, '--junit gets the same file')
  const root = parseXml(text)
  checkShape(root)

  const state = JSON.parse(await readFile(path.join(runDir, 'state.json'), 'utf8')) as RunRecord
  assert.equal(
    state.variants.map((variant) => `${variant.name}:${variant.status}`),
    ['passing:passed', 'smokefail:failed', 'broken:failed', 'stopped:interrupted'],
  )
  assert.equal(
    root.children.map((suite) => suite.attributes.name),
    state.variants.map((variant) => variant.name),
  )
  for (const variant of state.variants) {
    const suite = root.children.find((candidate) => candidate.attributes.name === variant.name)!
    const cases = suite.children.filter((child) => child.name === 'testcase')
    const smokeCases = cases.filter((testCase) => testCase.attributes.classname === `kspawn.${variant.name}.smoke`)
    const stepCases = cases.filter((testCase) => testCase.attributes.classname === `kspawn.${variant.name}.steps`)
    assert.is(smokeCases.length + stepCases.length, cases.length, 'every case is a smoke expectation or a step')
    assert.equal(
      smokeCases.map((testCase) => [testCase.attributes.name, testCase.children[0]?.name ?? 'passed']),
      (variant.state.smoke ?? []).map((result) => [result.expectation, result.passed ? 'passed' : 'failure']),
    )
    for (const testCase of smokeCases.filter((testCase) => testCase.children.length > 0)) {
      const result = variant.state.smoke!.find((candidate) => candidate.expectation === testCase.attributes.name)!
      assert.is(testCase.children[0]!.attributes.message, result.message)
      assert.ok(testCase.children[0]!.text.includes(result.message!), 'the failure text says what failed')
    }
    const stopped = variant.tasks.filter((task) => task.status === 'failed' || task.status === 'interrupted')
    assert.equal(
      stepCases.map((testCase) => [testCase.attributes.name, testCase.children[0]?.name]),
      stopped.map((task) => [task.id, task.status === 'failed' ? 'failure' : 'error']),
    )
    for (const testCase of stepCases) {
      const task = stopped.find((candidate) => candidate.id === testCase.attributes.name)!
      assert.ok(testCase.children[0]!.text.startsWith(task.message!.replace(/\u001b/g, '\\x1b')), 'the text holds the step message')
      assert.is(testCase.children[0]!.attributes.message, task.message!.split('\n')[0])
    }
  }
  const smokefail = root.children[1]!.children.find((child) => child.attributes.name === 'attach is denied with /rejected by/')!
  // What was seen, with the control characters shown rather than dropped or breaking the file.
  assert.ok(smokefail.children[0]!.text.includes('Error from server: <attach> & "allowed"\\x1b[31m red\\x00'), smokefail.children[0]!.text)
  const broken = root.children[2]!.children.find((child) => child.attributes.name === 'build')!
  assert.ok(broken.children[0]!.text.includes('last lines: <oops> & "quotes"\t\\x1b[0m'))
  assert.match(root.children[3]!.children.find((child) => child.attributes.name === 'build')!.children[0]!.attributes.message!, /interrupted/)
  assert.equal(
    root.children.map((suite) => [suite.attributes.tests, suite.attributes.failures, suite.attributes.errors]),
    [
      ['2', '0', '0'],
      ['3', '2', '0'],
      ['1', '1', '0'],
      ['1', '0', '1'],
    ],
  )
})

test('escaping keeps what XML cannot hold readable, and the line ends of attributes', () => {
  assert.is(escapeText('a < b && c > d'), 'a &lt; b &amp;&amp; c &gt; d')
  assert.is(escapeAttribute(`"x"\n'y'\t\r`), '&quot;x&quot;&#10;&apos;y&apos;&#9;&#13;')
  assert.is(escapeText('\u0007\u001b\u0085\uffff\ud800 ok 🎉'), '\\x07\\x1b\u0085\\uffff\\ud800 ok 🎉')
  const record: RunRecord = {
    version: 1,
    id: 'r',
    workflow: 'w',
    config: '/c',
    dryRun: false,
    startedAt: '2017-11-26T15:17:33.000Z',
    endedAt: '2017-11-26T15:17:35.500Z',
    status: 'failed',
    variants: [{ name: 'v', fingerprint: '', status: 'failed', stoppedAt: 'build', tasks: [{ id: 'build', status: 'failed', message: 'line one\nline "two" <\u0001>', durationMs: 1500 }], state: {} }],
  }
  const root = parseXml(formatJunit(record))
  assert.is(root.attributes.time, '2.5')
  const failure = root.children[0]!.children.find((child) => child.name === 'testcase')!.children[0]!
  assert.is(failure.attributes.message, 'line one')
  assert.is(failure.text, 'line one\nline "two" <\\x01>')
})

test('a variant interrupted before a step started is an error, not a pass', () => {
  const record: RunRecord = {
    version: 1,
    id: 'r',
    workflow: 'w',
    config: '/c',
    dryRun: false,
    startedAt: '2017-11-26T15:17:33.000Z',
    status: 'interrupted',
    variants: [{ name: 'v', fingerprint: '', status: 'interrupted', stoppedAt: 'image', tasks: [{ id: 'build', status: 'done', durationMs: 2000 }, { id: 'image', status: 'not-run' }], state: {} }],
  }
  const suite = parseXml(formatJunit(record)).children[0]!
  assert.equal([suite.attributes.tests, suite.attributes.errors, suite.attributes.time], ['1', '1', '2'])
  const testCase = suite.children.find((child) => child.name === 'testcase')!
  assert.equal([testCase.attributes.classname, testCase.attributes.name, testCase.children[0]!.name], ['kspawn.v.steps', 'image', 'error'])
  assert.is(testCase.children[0]!.attributes.message, 'v was interrupted before image started')
})

test('the strict reader refuses what is not well-formed', () => {
  for (const bad of ['<a>&</a>', '<a>x<b></a>', '<a b="1" b="2"/>', '<a>\u0001</a>', '<a/><b/>', '<a b="<"/>', '<a>&nope;</a>']) {
    assert.throws(() => parseXml(bad), undefined, bad)
  }
})

test.run()
