// The API server emulator, driven by the real kubectl the way the article's
// developer drives a kube-spawn cluster. Needs the world's Docker engine
// (DOCKER_HOST) with busybox:latest; fake "machines" are tiny images whose
// /hyperkube and /usr/bin/kubelet answer --build-info, given the kubeconfigs
// kubeadm would write (kubelet.conf on the master, bootstrap-kubelet.conf on
// the others) and marked as kubeadm marks the master, through kubectl.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` every 250 ms until it returns a value, for at most `seconds`
 * (generous: the machine may be busy); then fails with `what` (a function is
 * asked at that time).
 */
async function eventually<T>(what: string | (() => string), seconds: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) assert.unreachable(`${typeof what === 'function' ? what() : what}: not so after ${seconds} s`)
    await sleep(250)
  }
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

  /** A kubectl that keeps running (watch, attach); its output so far in `out()`. */
  start(args: string[]): { proc: ChildProcess; out: () => string; err: () => string } {
    const proc = spawn('kubectl', args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()))
    extraProcs.push(proc)
    return { proc, out: () => out, err: () => err }
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

/** Machines as kube-spawn starts them: the kubelet as main process, named by --hostname-override. */
async function startMachines(image: string, list: { name: string }[]): Promise<void> {
  for (const m of list) await docker('run', '-d', '--network', 'none', '--name', m.name, image, '/usr/bin/kubelet', `--hostname-override=${m.name}`)
}

/**
 * What kubeadm leaves for a machine's kubelet: init writes kubelet.conf for
 * system:node:<node> on the master, join a bootstrap-kubelet.conf elsewhere.
 */
async function giveKubeconfig(machine: string, file: 'kubelet.conf' | 'bootstrap-kubelet.conf', user: string): Promise<void> {
  const dir = mkdtempSync(join(work, 'etc-kubernetes-'))
  writeFileSync(
    join(dir, file),
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- cluster: {server: "https://10.22.0.2:6443"}',
      '  name: kubernetes',
      'contexts:',
      `- context: {cluster: kubernetes, user: "${user}"}`,
      `  name: "${user}@kubernetes"`,
      `current-context: "${user}@kubernetes"`,
      'users:',
      `- name: "${user}"`,
      '  user: {}',
      '',
    ].join('\n'),
  )
  await docker('cp', `${dir}/.`, `${machine}:/etc/kubernetes`)
}

/** kubeadm's kubeconfigs for a whole cluster: the master's from init, the others' from join. */
async function kubeadmKubeconfigs(list: { name: string }[]): Promise<void> {
  for (const [i, m] of list.entries()) {
    if (i === 0) await giveKubeconfig(m.name, 'kubelet.conf', `system:node:${m.name}`)
    else await giveKubeconfig(m.name, 'bootstrap-kubelet.conf', 'tls-bootstrap-token-user')
  }
}

/** What kubeadm init's markmaster does, with kubectl: the master label and the NoSchedule taint. */
async function markMaster(kubectl: Kubectl, node: string): Promise<void> {
  await kubectl.ok(['label', 'node', node, 'node-role.kubernetes.io/master='])
  await kubectl.ok(['taint', 'node', node, 'node-role.kubernetes.io/master:NoSchedule'])
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
  await eventually(() => `the ready file of ${name} (stderr:\n${stderr})`, 120, async () => existsSync(spec.readyFile) || undefined)
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
let deny: Kubectl | undefined
let allowServer: ApiServer | undefined
let allow: Kubectl | undefined
const extraProcs: ChildProcess[] = []
const DENY_READY_SECONDS = 3
const denyMachines = machines(DENY_CLUSTER, 3)
const allowMachines = machines(ALLOW_CLUSTER, 2)

/** The denying cluster's kubectl, once the tests that start it passed. */
function denying(): Kubectl {
  if (!deny) assert.unreachable('the denying cluster is not up: the test "the emulator runs as a process ..." did not pass')
  return deny!
}

/** The allowing cluster's kubectl, once the test that starts it passed. */
function allowing(): Kubectl {
  if (!allow) assert.unreachable('the allowing cluster is not up: the test "in-process, a cluster whose kubelets ..." did not pass')
  return allow!
}

// The fake machines and their images: what the tests work on, not what they test.
test.before(async () => {
  const dir1 = mkdtempSync(join(work, 'img-'))
  const dir2 = mkdtempSync(join(work, 'img-'))
  await machineImage(dir1, DENY_IMAGE, buildInfo(DENY_VERSION, 'c117bd71672b2d0b1f0e7a6b1d2c3e4f5a6b7c8d', [
    { name: 'DenyAttach', denies: ['pods/attach'], message: DENY_MESSAGE },
  ]))
  await machineImage(dir2, ALLOW_IMAGE, buildInfo(ALLOW_VERSION, 'eb0c026372a67eb49bbf80aa619f10ee94527bac', []))
  await startMachines(DENY_IMAGE, denyMachines)
  await startMachines(ALLOW_IMAGE, allowMachines)
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

test('the emulator runs as a process, says where it listens, and has no node until a kubelet has a kubeconfig', async () => {
  const readyFile = join(work, 'deny-ready.json')
  const spec: ApiServerSpec = { clusterName: DENY_CLUSTER, image: DENY_IMAGE, machines: denyMachines, nodeReadySeconds: DENY_READY_SECONDS, readyFile }
  const started = await startProcess(spec, 'deny')
  denyProc = started.proc
  denyStderr = started.stderr
  assert.is(started.ready.pid, denyProc.pid)
  assert.is(started.ready.url, `http://127.0.0.1:${started.ready.port}`)
  const kubectl = new Kubectl(started.ready.url, DENY_CLUSTER)
  const none = await kubectl.run(['get', 'nodes'])
  assert.is(none.code, 0, none.stderr)
  assert.is(none.stdout, '')
  assert.match(none.stderr, 'No resources found')
  const why = `kubelet of ${denyMachines[0]!.name}: failed to run Kubelet: unable to load bootstrap kubeconfig`
  await eventually(() => `"${why}" in the log:\n${denyStderr()}`, 60, async () => denyStderr().includes(why) || undefined)
  deny = kubectl
})

test('a kubelet whose kubeconfig names another node is refused by NodeRestriction', async () => {
  const kubectl = denying()
  const [, , third] = denyMachines
  await giveKubeconfig(third!.name, 'kubelet.conf', 'system:node:someone-else')
  await eventually('the refusal in the log', 60, async () =>
    denyStderr().includes(`kubelet of ${third!.name}: Unable to register node "${third!.name}" with API server: nodes "${third!.name}" is forbidden: node "someone-else" cannot modify node "${third!.name}"`) || undefined,
  )
  assert.match((await kubectl.run(['get', 'nodes'])).stderr, 'No resources found')
  // kubeadm join's bootstrap kubeconfig lets it register as itself.
  await docker('exec', third!.name, 'rm', '/etc/kubernetes/kubelet.conf')
})

test('nodes register as kubeadm gives their kubelets kubeconfigs: NotReady first, Ready nodeReadySeconds later', async () => {
  const kubectl = denying()
  const watch = kubectl.start(['get', 'nodes', '--watch', '--output-watch-events'])
  await kubeadmKubeconfigs(denyMachines)
  await eventually('three nodes', 60, async () => ((await kubectl.ok(['get', 'nodes', '-o', 'name'])).trim().split('\n').length === 3 ? true : undefined))
  const out = await kubectl.ok(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=120s'], 130_000)
  for (const m of denyMachines) assert.match(out, `node/${m.name} condition met`)
  // The watch saw each node NotReady before it saw it Ready.
  const seen = await eventually('every node Ready in the watch', 60, async () => {
    const events = watch.out().trim().split('\n').map((line) => line.trim().split(/\s+/))
    const byNode = new Map<string, string[]>()
    for (const [, name, status] of events) if (name && status) byNode.set(name, [...(byNode.get(name) ?? []), status])
    return denyMachines.every((m) => byNode.get(m.name)?.includes('Ready')) ? byNode : undefined
  })
  watch.proc.kill()
  for (const m of denyMachines) {
    const statuses = seen.get(m.name)!
    assert.is(statuses[0], 'NotReady', `${m.name}: ${statuses.join(' ')}`)
    assert.ok(statuses.indexOf('Ready') > statuses.indexOf('NotReady'), `${m.name}: ${statuses.join(' ')}`)
  }
  // ...and, by the server's own clock, not before nodeReadySeconds had passed since it registered.
  const list = JSON.parse(await kubectl.ok(['get', 'nodes', '-o', 'json'])) as {
    items: { metadata: { name: string; creationTimestamp: string }; status: { conditions: { type: string; lastTransitionTime: string }[] } }[]
  }
  for (const node of list.items) {
    const ready = node.status.conditions.find((c) => c.type === 'Ready')!
    const seconds = (Date.parse(ready.lastTransitionTime) - Date.parse(node.metadata.creationTimestamp)) / 1000
    assert.ok(seconds >= DENY_READY_SECONDS, `${node.metadata.name} turned Ready ${seconds} s after it registered`)
  }
})

test('kubectl get nodes: roles from the label kubeadm puts on the master, versions from each kubelet, addresses from the machines', async () => {
  const kubectl = denying()
  await markMaster(kubectl, denyMachines[0]!.name)
  const [header, ...nodes] = rows(await kubectl.ok(['get', 'nodes']))
  assert.equal(header, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'])
  assert.equal(
    nodes.map(([name, status, roles, , version]) => [name, status, roles, version]),
    [
      [`kubespawn${DENY_CLUSTER}0`, 'Ready', 'master', DENY_VERSION],
      [`kubespawn${DENY_CLUSTER}1`, 'Ready', '<none>', DENY_VERSION],
      [`kubespawn${DENY_CLUSTER}2`, 'Ready', '<none>', DENY_VERSION],
    ],
  )
  const wide = rows(await kubectl.ok(['get', 'nodes', '-o', 'wide']))
  assert.equal(wide[0]!.slice(0, 7), ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP'])
  assert.equal(wide.slice(1).map((r) => [r[1], r[5]]), [
    ['Ready', '10.22.0.2'],
    ['Ready', '10.22.0.3'],
    ['Ready', '10.22.0.4'],
  ])
})

test('kubectl version shows the image\'s gitVersion as the Server Version', async () => {
  const r = await denying().run(['version'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, `Server Version: ${DENY_VERSION}`)
  const json = JSON.parse(await denying().ok(['version', '-o', 'json'])) as { serverVersion: Record<string, string> }
  assert.is(json.serverVersion.gitCommit, 'c117bd71672b2d0b1f0e7a6b1d2c3e4f5a6b7c8d')
  assert.is(json.serverVersion.gitTreeState, 'dirty')
  assert.is(json.serverVersion.minor, '8')
})

test('run, wait Ready, logs show the date lines, attach is denied by the DenyAttach admission plugin', async () => {
  assert.match(await denying().ok(['run', 'mypod', '--image=busybox', ...POD_COMMAND]), 'pod/mypod created')
  assert.match(await denying().ok(['wait', '--for=condition=Ready', 'pod/mypod', '--timeout=120s'], 130_000), 'pod/mypod condition met')
  const [header, pod] = rows(await denying().ok(['get', 'pod']))
  assert.equal(header, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'])
  assert.equal(pod!.slice(0, 4), ['mypod', '1/1', 'Running', '0'])
  const node = (await denying().ok(['get', 'pod', 'mypod', '-o', 'jsonpath={.spec.nodeName}'])).trim()
  assert.ok(node === `kubespawn${DENY_CLUSTER}1` || node === `kubespawn${DENY_CLUSTER}2`, `scheduled on ${node}`)
  const container = `k8s_mypod_mypod_default_${DENY_CLUSTER}`
  assert.is(await docker('inspect', '-f', '{{.State.Running}}', container), 'true')

  // The pod prints a date a second: wait for two.
  const logs = await eventually('two date lines in the logs', 60, async () => {
    const text = await denying().ok(['logs', 'mypod'])
    return text.trim().split('\n').filter((l) => DATE_LINE.test(l)).length >= 2 ? text : undefined
  })
  const tail = await denying().ok(['logs', 'mypod', '--tail=1'])
  assert.is(tail.trim().split('\n').length, 1)

  const attach = await denying().run(['attach', 'mypod'], 20_000)
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
  const r = await denying().run(['delete', 'pod', 'mypod'], 40_000)
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, 'pod "mypod" deleted')
  assert.is((await run('docker', ['inspect', container])).code, 1)
  const after = await denying().run(['get', 'pods'])
  assert.match(after.stderr, 'No resources found in default namespace.')
  // A spec without apiServerPod (kube-spawn's) has no pod in any other namespace either.
  const all = await denying().run(['get', 'pods', '-A'])
  assert.is(all.code, 0, all.stderr)
  assert.is(all.stdout, '')
  assert.match(all.stderr, 'No resources found')
})

test('a missing image shows ErrImagePull, then ImagePullBackOff, and logs say why', async () => {
  await denying().ok(['run', 'nopull', '--image=example.invalid/nosuch:1.0'])
  const seen = new Set<string>()
  await eventually(() => `ImagePullBackOff (seen: ${[...seen].join(', ')})`, 120, async () => {
    const row = rows(await denying().ok(['get', 'pod', 'nopull', '--no-headers']))[0]!
    assert.is(row[1], '0/1')
    seen.add(row[2]!)
    return seen.has('ImagePullBackOff') || undefined
  })
  const waiting = JSON.parse(await denying().ok(['get', 'pod', 'nopull', '-o', 'jsonpath={.status.containerStatuses[0].state.waiting}'])) as {
    reason: string
    message: string
  }
  assert.ok(['ErrImagePull', 'ImagePullBackOff'].includes(waiting.reason))
  const logs = await denying().run(['logs', 'nopull'])
  assert.is(logs.code, 1)
  assert.match(logs.stderr, 'Error from server (BadRequest): container "nopull" in pod "nopull" is waiting to start')
  const describe = await denying().ok(['describe', 'pod', 'nopull'])
  assert.match(describe, 'Failed to pull image "example.invalid/nosuch:1.0"')
  await denying().ok(['delete', 'pod', 'nopull'])
})

test('unknown resources and methods give Status errors kubectl prints sensibly', async () => {
  const r1 = await denying().run(['get', 'deployments'])
  assert.is(r1.code, 1)
  assert.match(r1.stderr, 'the server doesn\'t have a resource type "deployments"')
  const r2 = await denying().run(['get', 'pod', 'nosuch'])
  assert.is(r2.stderr.trim(), 'Error from server (NotFound): pods "nosuch" not found')
  const r3 = await denying().run(['delete', 'node', `kubespawn${DENY_CLUSTER}1`])
  assert.match(r3.stderr, 'Error from server (MethodNotAllowed)')
})

test('the emulator process exits cleanly on SIGTERM and removes its pod containers', async () => {
  await denying().ok(['run', 'leftover', '--image=busybox', ...POD_COMMAND])
  await denying().ok(['wait', '--for=condition=Ready', 'pod/leftover', '--timeout=120s'], 130_000)
  denyProc!.kill('SIGTERM')
  assert.is(await exitOf(denyProc!, 60_000), 0, denyStderr())
  assert.is((await run('docker', ['inspect', `k8s_leftover_leftover_default_${DENY_CLUSTER}`])).code, 1)
  assert.match(denyStderr(), /GET \/api\/v1\/nodes\?limit=500 200/)
})

/** The static pod the allowing cluster's spec gives: its kube-apiserver is the machine's /hyperkube. */
const ALLOW_POD = {
  image: 'registry.k8s.io/kube-apiserver:v1.8.5-beta.0.2_eb0c026372a67e',
  command: ['kube-apiserver', '--advertise-address=10.22.0.2', '--enable-admission-plugins=NodeRestriction', '--secure-port=6443'],
  advertiseAddressEndpoint: '10.22.0.2:6443',
  execPrefix: ['sh', '-c', 'd=$(mktemp -d) && ln -s /hyperkube "$d/kube-apiserver" && PATH="$d:$PATH" "$@"; s=$?; rm -rf "$d"; exit $s', 'sh'],
}

test('in-process, a cluster whose kubelets already have their kubeconfigs has its nodes at once', async () => {
  await kubeadmKubeconfigs(allowMachines)
  allowServer = await startApiServer(
    { clusterName: ALLOW_CLUSTER, image: ALLOW_IMAGE, machines: allowMachines, nodeReadySeconds: 0, readyFile: '', apiServerPod: ALLOW_POD },
    { log: () => {} },
  )
  const kubectl = new Kubectl(allowServer.url, ALLOW_CLUSTER)
  await markMaster(kubectl, allowMachines[0]!.name)
  const nodes = rows(await kubectl.ok(['get', 'nodes']))
  assert.equal(nodes.slice(1).map((r) => [r[1], r[2], r[4]]), [
    ['Ready', 'master', ALLOW_VERSION],
    ['Ready', '<none>', ALLOW_VERSION],
  ])
  allow = kubectl
})

test('attach is allowed on a cluster whose image has no denying plugin: the date lines stream in', async () => {
  await allowing().ok(['run', 'mypod', '--image=busybox', ...POD_COMMAND])
  await allowing().ok(['wait', '--for=condition=Ready', 'pod/mypod', '--timeout=120s'], 130_000)
  // kubectl attach streams until it is stopped: three dates, then stop it.
  const attach = allowing().start(['attach', 'mypod'])
  const exited = new Promise<void>((resolve) => attach.proc.once('exit', () => resolve()))
  const dates = () => attach.out().split('\n').filter((l) => DATE_LINE.test(l)).length
  await eventually(() => `three date lines from attach (output: ${JSON.stringify(attach.out())}, stderr: ${attach.err()})`, 60, async () =>
    dates() >= 3 || attach.proc.exitCode !== null ? true : undefined,
  )
  assert.is(attach.proc.exitCode, null, `kubectl attach ended by itself: ${attach.err()}`)
  assert.ok(dates() >= 3)
  attach.proc.kill('SIGTERM')
  await exited
  assert.not.match(attach.err(), 'Error')
})

test("the spec's API server pod is the master's mirror pod: listed with the others, exec runs in the master, a deleted one comes back", async () => {
  const master = allowMachines[0]!.name
  const name = `kube-apiserver-${master}`
  const found = await eventually('the mirror pod', 30, async () => {
    const r = await allowing().run(['-n', 'kube-system', 'get', 'pods', '-l', 'component=kube-apiserver,tier=control-plane', '-o', 'json'])
    const items = (JSON.parse(r.stdout || '{"items":[]}') as { items: { metadata: { name: string; uid: string; annotations: Record<string, string>; ownerReferences: { kind: string; name: string; uid: string }[] }; spec: { nodeName: string; containers: { name: string; image: string; command: string[] }[] } }[] }).items
    return items.length > 0 ? items : undefined
  })
  assert.is(found.length, 1)
  const pod = found[0]!
  assert.is(pod.metadata.name, name)
  assert.is(pod.spec.nodeName, master)
  assert.equal(pod.spec.containers.map((c) => [c.name, c.image, c.command]), [['kube-apiserver', ALLOW_POD.image, ALLOW_POD.command]])
  assert.is(pod.metadata.annotations['kubernetes.io/config.mirror'], pod.metadata.annotations['kubernetes.io/config.hash'])
  assert.is(pod.metadata.annotations['kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint'], '10.22.0.2:6443')
  const nodeUid = (await allowing().ok(['get', 'node', master, '-o', 'jsonpath={.metadata.uid}'])).trim()
  assert.equal(pod.metadata.ownerReferences.map((o) => [o.kind, o.name, o.uid]), [['Node', master, nodeUid]])

  // The default namespace's table is as it was; -A adds the mirror pod, Running on the master at its address.
  const mine = await allowing().run(['get', 'pods'])
  assert.not.match(mine.stdout + mine.stderr, 'kube-apiserver')
  const wide = rows(await allowing().ok(['get', 'pods', '-A', '-o', 'wide']))
  const row = wide.find((r) => r[1] === name)
  assert.equal(row?.slice(0, 4), ['kube-system', name, '1/1', 'Running'])
  assert.equal(row?.slice(6, 8), ['10.22.0.2', master])

  const exec = await allowing().run(['-n', 'kube-system', 'exec', name, '--', 'kube-apiserver', '--build-info'], 20_000)
  assert.is(exec.code, 0, exec.stderr)
  assert.is((JSON.parse(exec.stdout) as { gitVersion: string }).gitVersion, ALLOW_VERSION)
  const failed = await allowing().run(['-n', 'kube-system', 'exec', name, '--', 'sh', '-c', 'hostname; exit 4'], 20_000)
  assert.is(failed.code, 4)
  assert.is(failed.stdout, `${await docker('inspect', '-f', '{{.Config.Hostname}}', master)}\n`, 'it runs in the master machine')
  const logs = await allowing().run(['-n', 'kube-system', 'logs', name])
  assert.is(logs.code, 0, logs.stderr)
  assert.is(logs.stdout, '')

  // The kubelet mirrors the static pod again, under a new uid.
  await allowing().ok(['-n', 'kube-system', 'delete', 'pod', name])
  const again = await eventually('the mirror pod back', 30, async () => {
    const r = await allowing().run(['-n', 'kube-system', 'get', 'pod', name, '-o', 'jsonpath={.metadata.uid}'])
    return r.code === 0 && r.stdout !== '' ? r.stdout : undefined
  })
  assert.is.not(again, pod.metadata.uid)
})

test('kubectl apply -f validates on the server: unknown fields are refused, good manifests start', async () => {
  const manifest = (extra: string) =>
    ['apiVersion: v1', 'kind: Pod', 'metadata:', '  name: frommanifest', 'spec:', '  containers:', '  - name: main', '    image: busybox',
      '    command: ["sh", "-c", "echo manifest-ok; sleep 3600"]', extra, ''].join('\n')
  writeFileSync(join(work, 'bad.yaml'), manifest('    colour: red'))
  writeFileSync(join(work, 'good.yaml'), manifest(''))
  const bad = await allowing().run(['apply', '-f', join(work, 'bad.yaml')])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, 'strict decoding error: unknown field "spec.containers[0].colour"')
  assert.match(await allowing().ok(['apply', '-f', join(work, 'good.yaml')]), 'pod/frommanifest created')
  await allowing().ok(['wait', '--for=condition=Ready', 'pod/frommanifest', '--timeout=120s'], 130_000)
  assert.match(await allowing().ok(['logs', 'frommanifest']), 'manifest-ok')
})

test('kubectl exec runs in the pod\'s container and passes the exit code on', async () => {
  const r = await allowing().run(['exec', 'frommanifest', '--', 'sh', '-c', 'echo in $(hostname); exit 3'], 20_000)
  assert.is(r.stdout, 'in frommanifest\n')
  assert.is(r.code, 3)
  assert.match(r.stderr, 'command terminated with exit code 3')
})

test('a restarted emulator takes back the pods of the same machines; SIGTERM then cleans up', async () => {
  await allowServer!.close()
  allowServer = undefined
  const spec: ApiServerSpec = {
    clusterName: ALLOW_CLUSTER, image: ALLOW_IMAGE, machines: allowMachines, nodeReadySeconds: 0, readyFile: join(work, 'allow-ready.json'),
  }
  const first = await startProcess(spec, 'allow1')
  extraProcs.push(first.proc)
  const k1 = new Kubectl(first.ready.url, `${ALLOW_CLUSTER}1`)
  await markMaster(k1, allowMachines[0]!.name)
  await k1.ok(['run', 'survivor', '--image=busybox', ...POD_COMMAND])
  await k1.ok(['wait', '--for=condition=Ready', 'pod/survivor', '--timeout=120s'], 130_000)
  const container = `k8s_survivor_survivor_default_${ALLOW_CLUSTER}`
  const id = await docker('inspect', '-f', '{{.Id}}', container)
  first.proc.kill('SIGKILL')
  await exitOf(first.proc, 60_000)

  const second = await startProcess(spec, 'allow2')
  extraProcs.push(second.proc)
  const k2 = new Kubectl(second.ready.url, `${ALLOW_CLUSTER}2`)
  await k2.ok(['wait', '--for=condition=Ready', 'pod/survivor', '--timeout=120s'], 130_000)
  assert.is(await docker('inspect', '-f', '{{.Id}}', container), id)
  // The pod prints its first date a second after it starts, which can be after the restart: wait for one.
  const survivorLog = await eventually('a date line from the adopted pod', 60, async () => {
    const text = await k2.ok(['logs', 'survivor', '--tail=1'])
    return DATE_LINE.test(text) ? text : undefined
  })
  assert.match(survivorLog, DATE_LINE)
  second.proc.kill('SIGTERM')
  assert.is(await exitOf(second.proc, 60_000), 0, second.stderr())
  assert.is((await run('docker', ['inspect', container])).code, 1)
})

test.run()
