// The API server emulator, driven by the real kubectl the way the article's
// developer drives a kube-spawn cluster. Needs the world's Docker engine
// (DOCKER_HOST) with busybox:latest; fake "machines" are tiny images whose
// /hyperkube and /usr/bin/kubelet answer --build-info.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { world } from './harness.ts'
import { startApiServer, type ApiServer } from './apiserver/server.ts'
import type { ApiServerSpec, ReadyInfo } from './apiserver/spec.ts'

// Pods and machines are containers on the world's engine; harness.world() says how to start it when it is not up.
process.env.DOCKER_HOST ??= world().DOCKER_HOST
const RUN = [...randomBytes(6)].map((b) => 'abcdefghijklmnopqrstuvwxyz'[b % 26]).join('')
const DENY_CLUSTER = `t${RUN}deny`
const ALLOW_CLUSTER = `t${RUN}ok`
const DENY_IMAGE = `kspawn-test/hyperkube-amd64:${RUN}-denyattach`
const ALLOW_IMAGE = `kspawn-test/hyperkube-amd64:${RUN}-fix`
const DENY_VERSION = 'v1.8.5-beta.0.1+c117bd71672b2d-dirty'
const ALLOW_VERSION = 'v1.8.5-beta.0.2+eb0c026372a67e'
const DENY_MESSAGE = 'cannot attach to a container, rejected by admission controller'
const POD_COMMAND = ['--command', '--', '/bin/sh', '-c', 'while true ; do sleep 1 ; date ; done']
const DATE_LINE = /^\w{3} \w{3} +\d+ \d\d:\d\d:\d\d UTC \d{4}$/m

const work = mkdtempSync(join(tmpdir(), 'kspawn-apiserver-test-'))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGTERM', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      },
    )
  })
}

async function docker(...args: string[]): Promise<string> {
  const r = await run('docker', args)
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

class Kubectl {
  private readonly env: NodeJS.ProcessEnv
  constructor(url: string, name: string) {
    const kubeconfig = join(work, `${name}.kubeconfig`)
    writeFileSync(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- cluster: {server: "${url}"}`,
        `  name: ${name}`,
        'contexts:',
        `- context: {cluster: ${name}, user: ${name}}`,
        `  name: ${name}`,
        `current-context: ${name}`,
        'users:',
        `- name: ${name}`,
        '  user: {}',
        '',
      ].join('\n'),
    )
    // A private HOME keeps kubectl's discovery and HTTP caches out of the user's.
    this.env = { ...process.env, KUBECONFIG: kubeconfig, HOME: join(work, `${name}-home`) }
  }

  run(args: string[], timeoutMs = 60_000): Promise<Run> {
    return run('kubectl', args, { env: this.env, timeoutMs })
  }

  async ok(args: string[], timeoutMs?: number): Promise<string> {
    const r = await this.run(args, timeoutMs)
    assert.is(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`)
    return r.stdout
  }
}

function machineImage(dir: string, tag: string, buildInfo: object): Promise<string> {
  const script = (component: string) =>
    `#!/bin/sh\ncase "$1" in\n  --build-info) echo '${JSON.stringify({ component, ...buildInfo })}' ;;\n  --version) echo 'Kubernetes ${(buildInfo as { gitVersion: string }).gitVersion}' ;;\n  *) exec sleep 2147483647 ;;\nesac\n`
  writeFileSync(join(dir, 'hyperkube'), script('hyperkube'))
  writeFileSync(join(dir, 'kubelet'), script('kubelet'))
  chmodSync(join(dir, 'hyperkube'), 0o755)
  chmodSync(join(dir, 'kubelet'), 0o755)
  writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:latest\nCOPY hyperkube /hyperkube\nCOPY kubelet /usr/bin/kubelet\n')
  return docker('build', '-q', '-t', tag, dir)
}

function buildInfo(gitVersion: string, commit: string, plugins: object[]) {
  return {
    gitVersion,
    gitCommit: commit,
    gitTreeState: gitVersion.endsWith('-dirty') ? 'dirty' : 'clean',
    major: '1',
    minor: '8',
    buildDate: '2017-11-26T15:00:00Z',
    admissionPlugins: plugins,
  }
}

function machines(cluster: string, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    name: `kubespawn${cluster}${i}`,
    role: (i === 0 ? 'master' : 'node') as 'master' | 'node',
    address: `10.22.0.${i + 2}`,
  }))
}

async function startMachines(image: string, list: { name: string }[]): Promise<void> {
  for (const m of list) await docker('run', '-d', '--network', 'none', '--name', m.name, image, '/usr/bin/kubelet')
}

function rows(table: string): string[][] {
  return table.trim().split('\n').map((l) => l.trim().split(/\s{2,}/))
}

/** Starts main.ts as the kube-spawn stand-in does and waits for its ready file. */
async function startProcess(spec: ApiServerSpec, name: string): Promise<{ proc: ChildProcess; ready: ReadyInfo; stderr: () => string }> {
  const specFile = join(work, `${name}-spec.json`)
  writeFileSync(specFile, JSON.stringify(spec))
  rmSync(spec.readyFile, { force: true })
  const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'apiserver', 'main.ts'), '--spec', specFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  for (let i = 0; i < 300 && !existsSync(spec.readyFile); i++) await new Promise((r) => setTimeout(r, 50))
  assert.ok(existsSync(spec.readyFile), `no ready file; stderr:\n${stderr}`)
  return { proc, ready: JSON.parse(readFileSync(spec.readyFile, 'utf8')) as ReadyInfo, stderr: () => stderr }
}

function exitOf(proc: ChildProcess, ms: number): Promise<number | string | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode ?? proc.signalCode)
  return Promise.race([
    new Promise<number | string | null>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal))),
    new Promise<string>((r) => setTimeout(() => r('timeout'), ms)),
  ])
}

// Shared by the tests below, in order: the denying cluster runs as its own
// process (as the kube-spawn stand-in starts it), the fixed one in-process.
let denyProc: ChildProcess | undefined
let denyStderr: () => string = () => ''
let deny: Kubectl
let allowServer: ApiServer | undefined
let allow: Kubectl
let denyStartedAt = 0
const extraProcs: ChildProcess[] = []

test.before(async () => {
  const dir1 = mkdtempSync(join(work, 'img-'))
  const dir2 = mkdtempSync(join(work, 'img-'))
  await machineImage(dir1, DENY_IMAGE, buildInfo(DENY_VERSION, 'c117bd71672b2d0b1f0e7a6b1d2c3e4f5a6b7c8d', [
    { name: 'DenyAttach', denies: ['pods/attach'], message: DENY_MESSAGE },
  ]))
  await machineImage(dir2, ALLOW_IMAGE, buildInfo(ALLOW_VERSION, 'eb0c026372a67eb49bbf80aa619f10ee94527bac', []))
  const denyMachines = machines(DENY_CLUSTER, 3)
  const allowMachines = machines(ALLOW_CLUSTER, 2)
  await startMachines(DENY_IMAGE, denyMachines)
  await startMachines(ALLOW_IMAGE, allowMachines)

  const readyFile = join(work, 'deny-ready.json')
  const spec: ApiServerSpec = { clusterName: DENY_CLUSTER, image: DENY_IMAGE, machines: denyMachines, nodeReadySeconds: 6, readyFile }
  denyStartedAt = Date.now()
  const started = await startProcess(spec, 'deny')
  denyProc = started.proc
  denyStderr = started.stderr
  const ready = started.ready
  assert.is(ready.pid, denyProc.pid)
  assert.is(ready.url, `http://127.0.0.1:${ready.port}`)
  deny = new Kubectl(ready.url, DENY_CLUSTER)

  allowServer = await startApiServer(
    { clusterName: ALLOW_CLUSTER, image: ALLOW_IMAGE, machines: allowMachines, nodeReadySeconds: 0, readyFile: '' },
    { log: () => {} },
  )
  allow = new Kubectl(allowServer.url, ALLOW_CLUSTER)
})

test.after(async () => {
  if (denyProc && denyProc.exitCode === null) denyProc.kill('SIGKILL')
  await allowServer?.close()
  for (const p of extraProcs) if (p.exitCode === null) p.kill('SIGKILL')
  for (const cluster of [DENY_CLUSTER, ALLOW_CLUSTER]) {
    const ids = (await run('docker', ['ps', '-aq', '--filter', `label=io.kspawn.world.cluster=${cluster}`])).stdout.split('\n').filter(Boolean)
    const names = [...machines(cluster, 3)].map((m) => m.name)
    await run('docker', ['rm', '-f', ...ids, ...names])
  }
  await run('docker', ['rmi', '-f', DENY_IMAGE, ALLOW_IMAGE])
  rmSync(work, { recursive: true, force: true })
})

test('kubectl get nodes: NotReady at first, roles from the master label, versions from each kubelet', async () => {
  const out = await deny.ok(['get', 'nodes'])
  const [header, ...nodes] = rows(out)
  assert.equal(header, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'])
  assert.equal(
    nodes.map(([name, status, roles, , version]) => [name, status, roles, version]),
    [
      [`kubespawn${DENY_CLUSTER}0`, 'NotReady', 'master', DENY_VERSION],
      [`kubespawn${DENY_CLUSTER}1`, 'NotReady', '<none>', DENY_VERSION],
      [`kubespawn${DENY_CLUSTER}2`, 'NotReady', '<none>', DENY_VERSION],
    ],
  )
  assert.ok(Date.now() - denyStartedAt < 6000, 'the nodes must still be NotReady here; the emulator started too slowly')
})

test('kubectl wait --for=condition=Ready node --all really waits, then get nodes says Ready', async () => {
  const t0 = Date.now()
  const out = await deny.ok(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=30s'], 40_000)
  assert.ok(Date.now() - t0 > 500, 'wait returned at once: nodes were Ready too early')
  assert.ok(Date.now() - denyStartedAt >= 6000, 'nodes turned Ready before nodeReadySeconds')
  for (let i = 0; i < 3; i++) assert.match(out, `node/kubespawn${DENY_CLUSTER}${i} condition met`)
  const wide = rows(await deny.ok(['get', 'nodes', '-o', 'wide']))
  assert.equal(wide[0]!.slice(0, 7), ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP'])
  assert.equal(wide.slice(1).map((r) => [r[1], r[5]]), [
    ['Ready', '10.22.0.2'],
    ['Ready', '10.22.0.3'],
    ['Ready', '10.22.0.4'],
  ])
})

test('kubectl version shows the image\'s gitVersion as the Server Version', async () => {
  const r = await deny.run(['version'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, `Server Version: ${DENY_VERSION}`)
  const json = JSON.parse(await deny.ok(['version', '-o', 'json'])) as { serverVersion: Record<string, string> }
  assert.is(json.serverVersion.gitCommit, 'c117bd71672b2d0b1f0e7a6b1d2c3e4f5a6b7c8d')
  assert.is(json.serverVersion.gitTreeState, 'dirty')
  assert.is(json.serverVersion.minor, '8')
})

test('run, wait Ready, logs show the date lines, attach is denied by the DenyAttach admission plugin', async () => {
  assert.match(await deny.ok(['run', 'mypod', '--image=busybox', ...POD_COMMAND]), 'pod/mypod created')
  assert.match(await deny.ok(['wait', '--for=condition=Ready', 'pod/mypod', '--timeout=30s'], 40_000), 'pod/mypod condition met')
  const [header, pod] = rows(await deny.ok(['get', 'pod']))
  assert.equal(header, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'])
  assert.equal(pod!.slice(0, 4), ['mypod', '1/1', 'Running', '0'])
  const node = (await deny.ok(['get', 'pod', 'mypod', '-o', 'jsonpath={.spec.nodeName}'])).trim()
  assert.ok(node === `kubespawn${DENY_CLUSTER}1` || node === `kubespawn${DENY_CLUSTER}2`, `scheduled on ${node}`)
  const container = `k8s_mypod_mypod_default_${DENY_CLUSTER}`
  assert.is(await docker('inspect', '-f', '{{.State.Running}}', container), 'true')

  await new Promise((r) => setTimeout(r, 2500))
  const logs = await deny.ok(['logs', 'mypod'])
  assert.ok(logs.trim().split('\n').length >= 2, `logs: ${logs}`)
  assert.match(logs, DATE_LINE)
  const tail = await deny.ok(['logs', 'mypod', '--tail=1'])
  assert.is(tail.trim().split('\n').length, 1)

  const attach = await deny.run(['attach', 'mypod'], 20_000)
  assert.is(attach.code, 1)
  assert.is(attach.stdout, '')
  assert.is(
    attach.stderr,
    "If you don't see a command prompt, try pressing enter.\n" +
      `Error from server (Forbidden): pods "mypod" is forbidden: ${DENY_MESSAGE}\n`,
  )
})

test('kubectl delete pod waits until it is gone and removes its Docker container', async () => {
  const container = `k8s_mypod_mypod_default_${DENY_CLUSTER}`
  const r = await deny.run(['delete', 'pod', 'mypod'], 40_000)
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, 'pod "mypod" deleted')
  assert.is((await run('docker', ['inspect', container])).code, 1)
  const after = await deny.run(['get', 'pods'])
  assert.match(after.stderr, 'No resources found in default namespace.')
})

test('a missing image shows ErrImagePull, then ImagePullBackOff, and logs say why', async () => {
  await deny.ok(['run', 'nopull', '--image=example.invalid/nosuch:1.0'])
  const seen = new Set<string>()
  for (let i = 0; i < 30 && !seen.has('ImagePullBackOff'); i++) {
    const row = rows(await deny.ok(['get', 'pod', 'nopull', '--no-headers']))[0]!
    assert.is(row[1], '0/1')
    seen.add(row[2]!)
    await new Promise((r) => setTimeout(r, 300))
  }
  assert.ok(seen.has('ImagePullBackOff'), `statuses seen: ${[...seen].join(', ')}`)
  const waiting = JSON.parse(await deny.ok(['get', 'pod', 'nopull', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting}'])) as {
    reason: string
    message: string
  }
  assert.ok(['ErrImagePull', 'ImagePullBackOff'].includes(waiting.reason))
  const logs = await deny.run(['logs', 'nopull'])
  assert.is(logs.code, 1)
  assert.match(logs.stderr, 'Error from server (BadRequest): container "nopull" in pod "nopull" is waiting to start')
  const describe = await deny.ok(['describe', 'pod', 'nopull'])
  assert.match(describe, 'Failed to pull image "example.invalid/nosuch:1.0"')
  await deny.ok(['delete', 'pod', 'nopull'])
})

test('unknown resources and methods give Status errors kubectl prints sensibly', async () => {
  const r1 = await deny.run(['get', 'deployments'])
  assert.is(r1.code, 1)
  assert.match(r1.stderr, 'the server doesn\'t have a resource type "deployments"')
  const r2 = await deny.run(['get', 'pod', 'nosuch'])
  assert.is(r2.stderr.trim(), 'Error from server (NotFound): pods "nosuch" not found')
  const r3 = await deny.run(['delete', 'node', `kubespawn${DENY_CLUSTER}1`])
  assert.match(r3.stderr, 'Error from server (MethodNotAllowed)')
})

test('the emulator process exits cleanly on SIGTERM and removes its pod containers', async () => {
  await deny.ok(['run', 'leftover', '--image=busybox', ...POD_COMMAND])
  await deny.ok(['wait', '--for=condition=Ready', 'pod/leftover', '--timeout=30s'], 40_000)
  denyProc!.kill('SIGTERM')
  assert.is(await exitOf(denyProc!, 10_000), 0, denyStderr())
  assert.is((await run('docker', ['inspect', `k8s_leftover_leftover_default_${DENY_CLUSTER}`])).code, 1)
  assert.match(denyStderr(), /GET \/api\/v1\/nodes\?limit=500 200/)
})

test('attach is allowed on a cluster whose image has no denying plugin: the date lines stream in', async () => {
  const nodes = rows(await allow.ok(['get', 'nodes']))
  assert.equal(nodes.slice(1).map((r) => [r[1], r[2], r[4]]), [
    ['Ready', 'master', ALLOW_VERSION],
    ['Ready', '<none>', ALLOW_VERSION],
  ])
  await allow.ok(['run', 'mypod', '--image=busybox', ...POD_COMMAND])
  await allow.ok(['wait', '--for=condition=Ready', 'pod/mypod', '--timeout=30s'], 40_000)
  // `timeout 5 kubectl attach mypod`: kubectl streams until it is killed.
  const r = await allow.run(['attach', 'mypod'], 5000)
  assert.is(r.code, null, 'kubectl attach should still be streaming when killed')
  assert.not.match(r.stderr, 'Error')
  const lines = r.stdout.trim().split('\n').filter((l) => DATE_LINE.test(l))
  assert.ok(lines.length >= 3, `attach output: ${JSON.stringify(r.stdout)} stderr: ${r.stderr}`)
})

test('kubectl apply -f validates on the server: unknown fields are refused, good manifests start', async () => {
  const manifest = (extra: string) =>
    ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: frommanifest', 'spec:', '  containers:', '  - name: main', '    image: busybox',
      '    command: ["sh", "-c", "echo manifest-ok; sleep 3600"]', extra, ''].join('\n')
  writeFileSync(join(work, 'bad.yaml'), manifest('    colour: red'))
  writeFileSync(join(work, 'good.yaml'), manifest(''))
  const bad = await allow.run(['apply', '-f', join(work, 'bad.yaml')])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, 'strict decoding error: unknown field "spec.containers[0].colour"')
  assert.match(await allow.ok(['apply', '-f', join(work, 'good.yaml')]), 'pod/frommanifest created')
  await allow.ok(['wait', '--for=condition=Ready', 'pod/frommanifest', '--timeout=30s'], 40_000)
  assert.match(await allow.ok(['logs', 'frommanifest']), 'manifest-ok')
})

test('kubectl exec runs in the pod\'s container and passes the exit code on', async () => {
  const r = await allow.run(['exec', 'frommanifest', '--', 'sh', '-c', 'echo in $(hostname); exit 3'], 20_000)
  assert.is(r.stdout, 'in frommanifest\n')
  assert.is(r.code, 3)
  assert.match(r.stderr, 'command terminated with exit code 3')
})

test('a restarted emulator takes back the pods of the same machines; SIGTERM then cleans up', async () => {
  await allowServer!.close()
  allowServer = undefined
  const spec: ApiServerSpec = {
    clusterName: ALLOW_CLUSTER, image: ALLOW_IMAGE, machines: machines(ALLOW_CLUSTER, 2), nodeReadySeconds: 0, readyFile: join(work, 'allow-ready.json'),
  }
  const first = await startProcess(spec, 'allow1')
  extraProcs.push(first.proc)
  const k1 = new Kubectl(first.ready.url, `${ALLOW_CLUSTER}1`)
  await k1.ok(['run', 'survivor', '--image=busybox', ...POD_COMMAND])
  await k1.ok(['wait', '--for=condition=Ready', 'pod/survivor', '--timeout=30s'], 40_000)
  const container = `k8s_survivor_survivor_default_${ALLOW_CLUSTER}`
  const id = await docker('inspect', '-f', '{{.Id}}', container)
  first.proc.kill('SIGKILL')
  await exitOf(first.proc, 5000)

  const second = await startProcess(spec, 'allow2')
  extraProcs.push(second.proc)
  const k2 = new Kubectl(second.ready.url, `${ALLOW_CLUSTER}2`)
  await k2.ok(['wait', '--for=condition=Ready', 'pod/survivor', '--timeout=30s'], 40_000)
  assert.is(await docker('inspect', '-f', '{{.Id}}', container), id)
  // The pod prints its first date a second after it starts, which can be after the restart: wait for one.
  let survivorLog = ''
  for (let attempt = 0; attempt < 40 && !DATE_LINE.test(survivorLog); attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 250))
    survivorLog = await k2.ok(['logs', 'survivor', '--tail=1'])
  }
  assert.match(survivorLog, DATE_LINE)
  second.proc.kill('SIGTERM')
  assert.is(await exitOf(second.proc, 10_000), 0, second.stderr())
  assert.is((await run('docker', ['inspect', container])).code, 1)
})

test.run()
