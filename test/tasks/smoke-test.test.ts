// smoke-test's own commands and parsing, without a cluster (the world tests
// of smoke-test are in cluster-up.test.ts, which brings the clusters up).
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { kubeSpawn } from '../../plugins/kube-spawn/index.ts'
import { getNodesArgv, parseServerGitVersion, versionArgv, waitNodesReadyArgv } from '../../tasks/smoke-test.ts'

test('the commands', () => {
  assert.equal(waitNodesReadyArgv(kubeSpawn().readySeconds()), ['kubectl', 'wait', '--for=condition=Ready', 'node', '--all', '--timeout=180s'])
  assert.equal(waitNodesReadyArgv(kubeSpawn({ readySeconds: 600 }).readySeconds()).at(-1), '--timeout=600s')
  assert.equal(getNodesArgv(), ['kubectl', 'get', 'nodes'])
  assert.equal(versionArgv(), ['kubectl', 'version', '-o', 'json'])
})

test("the server's gitVersion, from kubectl version -o json", () => {
  const json = JSON.stringify({ clientVersion: { gitVersion: 'v1.32.4' }, serverVersion: { gitVersion: 'v1.8.5-beta.0.1+c117bd71672b2d-dirty' } })
  assert.is(parseServerGitVersion(json), 'v1.8.5-beta.0.1+c117bd71672b2d-dirty')
  assert.is(parseServerGitVersion(JSON.stringify({ clientVersion: { gitVersion: 'v1.32.4' } })), undefined)
  assert.is(parseServerGitVersion('The connection to the server localhost:8080 was refused'), undefined)
})

test.run()
