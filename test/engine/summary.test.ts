// The summary printed at the end of a run, from the record of the run.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import type { RunRecord, VariantRecord } from '../../engine/run/run-state.ts'
import { formatSummary } from '../../engine/run/summary.ts'

const variant = (name: string, fields: Partial<VariantRecord>): VariantRecord => ({
  name,
  fingerprint: '{}',
  status: 'passed',
  tasks: ['fetch-source', 'build', 'image', 'cluster-up', 'smoke-test'].map((id) => ({ id, status: 'done' })),
  state: {},
  ...fields,
})

const record = (variants: VariantRecord[], fields: Partial<RunRecord> = {}): RunRecord => ({
  version: 1,
  id: '20171126T151733Z-dev-loop',
  workflow: 'dev-loop',
  config: '/src/kspawn.config.ts',
  dryRun: false,
  startedAt: '2017-11-26T15:17:33.000Z',
  status: 'passed',
  variants,
  ...fields,
})

const dir = '/src/.kspawn/runs/20171126T151733Z-dev-loop'

test('passed and failed variants, with what their smoke tests saw and how to reach their clusters', () => {
  const denyattach = variant('denyattach', {
    state: {
      kubeconfig: '/var/lib/kube-spawn/denyattach/kubeconfig',
      smoke: [
        {
          expectation: 'kubectl attach is Forbidden with "rejected by admission controller"',
          passed: true,
          observed: 'Error from server (Forbidden): pods "mypod-74c9fd65cb-n5hsg" is forbidden: cannot attach to a container, rejected by admission controller',
        },
      ],
    },
  })
  const upstream = variant('upstream', {
    status: 'failed',
    stoppedAt: 'smoke-test',
    tasks: [
      { id: 'fetch-source', status: 'done' },
      { id: 'smoke-test', status: 'failed', message: 'smoke-test (upstream) failed: 1 of 1 expectation not met' },
    ],
    state: {
      kubeconfig: '/var/lib/kube-spawn/upstream/kubeconfig',
      smoke: [
        {
          expectation: 'kubectl attach is Forbidden with "rejected by admission controller"',
          passed: false,
          observed: "$ kubectl attach mypod-74c9fd65cb-48d9m\nIf you don't see a command prompt, try pressing enter.",
        },
      ],
    },
  })
  const text = formatSummary(record([denyattach, upstream], { status: 'failed', exitCode: 1 }), {
    color: false,
    dir,
    resumeCommand: 'kspawn run dev-loop --resume',
  })
  assert.is(
    text,
    [
      '',
      'dev-loop: 1 of 2 variants passed, 1 failed',
      '  ✔ denyattach passed',
      '      ✔ kubectl attach is Forbidden with "rejected by admission controller"',
      '        seen: Error from server (Forbidden): pods "mypod-74c9fd65cb-n5hsg" is forbidden: cannot attach to a container, rejected by admission controller',
      '      export KUBECONFIG=/var/lib/kube-spawn/denyattach/kubeconfig',
      '  ✖ upstream failed at smoke-test',
      '      smoke-test (upstream) failed: 1 of 1 expectation not met',
      '      ✖ kubectl attach is Forbidden with "rejected by admission controller"',
      '        seen: $ kubectl attach mypod-74c9fd65cb-48d9m',
      "              If you don't see a command prompt, try pressing enter.",
      '      export KUBECONFIG=/var/lib/kube-spawn/upstream/kubeconfig',
      'To continue where it stopped: kspawn run dev-loop --resume',
      `Run folder: ${dir}`,
      '',
    ].join('\n'),
  )
})

test('an interrupted run says where each variant stopped', () => {
  const denyattach = variant('denyattach', {
    status: 'interrupted',
    stoppedAt: 'build',
    tasks: [
      { id: 'fetch-source', status: 'done' },
      { id: 'build', status: 'interrupted', message: 'build (denyattach) was interrupted by SIGINT while running: build/run.sh make' },
      { id: 'image', status: 'not-run' },
    ],
  })
  const text = formatSummary(record([denyattach], { status: 'interrupted', interruptedBy: 'SIGINT', exitCode: 130 }), { color: false, dir })
  assert.is(
    text,
    [
      '',
      'dev-loop was interrupted by SIGINT',
      '  ■ denyattach stopped during build (done: fetch-source; not run: image)',
      '      build (denyattach) was interrupted by SIGINT while running: build/run.sh make',
      `Run folder: ${dir}`,
      '',
    ].join('\n'),
  )
})

test('a dry run counts the commands it printed and shows no cluster', () => {
  const denyattach = variant('denyattach', { state: { kubeconfig: '/var/lib/kube-spawn/denyattach/kubeconfig' } })
  const text = formatSummary(record([denyattach], { dryRun: true }), { color: false, printedCommands: 5 })
  assert.is(text, ['', 'dev-loop (dry run): 5 commands printed for 1 variant, none run', '  ✔ denyattach planned', ''].join('\n'))
})

test.run()
