// Tests of the kube-spawn and machinectl stand-ins, through their executables
// in test/world/bin, against the world's Docker engine and API server
// emulator, as a user of the article's workflow would see them. The machines
// run a real build of the fixture tree, made by the first test.
//
//   node --import tsx test/run.ts test/world/standins.test.ts
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { suite } from '../suite.ts'
import * as assert from 'uvu/assert'
import { buildImage, buildInfo, checkout, HYPERKUBE, world, type Checkout } from './harness.ts'
import { binDir } from './state.ts'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env, cwd, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

const id = randomBytes(3).toString('hex').replace(/^\d/, 'x')
const tag = `v1.8.5-beta.0-standins-${id}`
const image = `${HYPERKUBE}:${tag}`

let root = ''
let dir = ''
/** The world's environment with the build as $GOPATH; set by the first test. */
let env: NodeJS.ProcessEnv = {}
const trees: Checkout[] = []
let built: { tree: Checkout; gitVersion: string } | undefined
const docker = (args: string[]): Promise<Run> => run(['docker', ...args], env)
const ks = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> => run([join(binDir, 'kube-spawn'), '-d', dir, ...args], { ...env, ...extraEnv })
const mc = (args: string[]): Promise<Run> => run([join(binDir, 'machinectl'), ...args], env)

/** The build of the first test, or a failure that says it is missing. */
function build(): { tree: Checkout; gitVersion: string } {
  if (!built) assert.unreachable('no build to run: the test "builds the upstream tag and its hyperkube image" did not pass')
  return built!
}

function cluster(name: string): string {
  return `${name}${id}`
}

async function containerNames(): Promise<string[]> {
  const r = await docker(['ps', '-a', '--format', '{{.Names}}'])
  return r.stdout.split('\n').filter(Boolean)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

/** Polls until `check` holds, for at most `seconds` (generous: the machine may be busy). */
async function eventually(what: () => string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (!(await check())) {
    if (Date.now() > deadline) assert.unreachable(`${what()}: not so after ${seconds} s`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

const test = suite('kube-spawn and machinectl stand-ins')

test.before(async () => {
  // world() fails with what to do when the world is not up.
  env = { ...process.env, ...world(), KSPAWN_WORLD_NODE_READY_SECONDS: '0' }
  root = await mkdtemp(join(tmpdir(), 'kspawn-standins-'))
  dir = join(root, 'kube-spawn')
})

test.after(async () => {
  // Everything the tests started: clusters, then any machine or emulator left behind.
  if (existsSync(dir)) {
    for (const name of await readdir(dir)) {
      if (name.startsWith('.')) continue
      try {
        const { pid } = JSON.parse(readFileSync(join(dir, name, 'apiserver.json'), 'utf8')) as { pid: number }
        if (isAlive(pid)) process.kill(pid, 'SIGKILL')
      } catch {
        // no emulator
      }
    }
  }
  if (built) {
    const ours = (await docker(['ps', '-a', '--filter', `label=kube-spawn.world/machine`, '--format', '{{.Names}} {{.Label "kube-spawn.world/cluster-dir"}}'])).stdout
      .split('\n')
      .filter((line) => line.includes(` ${dir}/`))
      .map((line) => line.split(' ')[0]!)
    if (ours.length > 0) await docker(['rm', '-f', ...ours])
    await docker(['rmi', image])
  }
  for (const tree of trees) await tree.remove()
  await rm(root, { recursive: true, force: true })
})

test('builds the upstream tag and its hyperkube image, as the article does', async () => {
  const tree = await checkout({ upstreamRef: 'v1.8.5-beta.0' })
  trees.push(tree)
  await buildImage(tree, tag)
  env = { ...env, GOPATH: tree.gopath }
  built = { tree, gitVersion: (await buildInfo(tree)).gitVersion }
})

test('--version, usage errors and unknown commands answer as cobra does', async () => {
  const version = await ks(['--version'])
  assert.is(version.code, 0)
  assert.is(version.stdout, 'kube-spawn v0.2.1\n')
  const badFlag = await ks(['create', '--frobnicate'])
  assert.is(badFlag.code, 1)
  assert.match(badFlag.stderr, /^Error: unknown flag: --frobnicate\nUsage:\n {2}kube-spawn create \[flags\]/)
  const badCommand = await ks(['frobnicate'])
  assert.is(badCommand.code, 1)
  assert.is(badCommand.stderr, `Error: unknown command "frobnicate" for "kube-spawn"\nRun 'kube-spawn --help' for usage.\n`)
})

test('create --dev names the missing build output and how to make it', async () => {
  build()
  const emptyGopath = join(root, 'empty-gopath')
  await mkdir(join(emptyGopath, 'src/k8s.io/kubernetes/build'), { recursive: true })
  const noOutput = await ks(['create', '--dev', '-t', tag, '-c', cluster('nobuild')], { GOPATH: emptyGopath })
  assert.is(noOutput.code, 1)
  assert.ok(
    noOutput.stderr.includes(`error settting kubernetes defaults: error getting k8s build output directory: stat ${emptyGopath}/src/k8s.io/kubernetes/_output/bin: no such file or directory`),
    noOutput.stderr,
  )

  // A build that stopped at kubelet: hyperkube and kubeadm are there, kubelet is not.
  const stopped = await checkout({ upstreamRef: 'v1.8.5-beta.0' })
  trees.push(stopped)
  const make = await run(['build/run.sh', 'make'], { ...env, KSPAWN_WORLD_BUILD_FAIL_AT: 'kubelet' }, stopped.tree)
  assert.is.not(make.code, 0, 'the build stops at kubelet')
  const partial = stopped.gopath
  const name = cluster('partial')
  const r = await ks(['create', '--dev', '-t', tag, '-c', name], { GOPATH: partial })
  assert.is(r.code, 1)
  const kubelet = `${partial}/src/k8s.io/kubernetes/_output/dockerized/bin/linux/amd64/kubelet`
  assert.ok(r.stderr.includes(`failed to copy file "${kubelet}" -> "${dir}/${name}/rootfs/usr/bin/kubelet": open ${kubelet}: no such file or directory`), r.stderr)
  assert.ok(r.stderr.includes("build it with 'build/run.sh make'"), r.stderr)
  assert.ok(r.stderr.trimEnd().endsWith("Copying necessary files didn't succeed, aborting"), r.stderr)
  assert.not.ok(existsSync(join(dir, name, 'kspawn.toml')))
  // What that failure leaves behind shows up in `list` as the original shows it.
  const list = await ks(['list'])
  assert.ok(list.stderr.includes(`${name} [INVALID]`), list.stderr)
  await rm(join(dir, name), { recursive: true })
})

test('create --dev fails when the hyperkube image is not in the engine', async () => {
  build()
  const missingTag = `${tag}-missing`
  const r = await ks(['create', '--dev', '-t', missingTag, '-c', cluster('noimage')])
  assert.is(r.code, 1)
  assert.ok(r.stderr.includes(`hyperkube image "gcr.io/google-containers/hyperkube-amd64:${missingTag}" not found in the Docker engine`), r.stderr)
  assert.ok(r.stderr.includes(`make -C cluster/images/hyperkube VERSION=${missingTag}`), r.stderr)
  await rm(join(dir, cluster('noimage')), { recursive: true, force: true })
})

test('create, start and stop refuse a non-root user with the original words', async () => {
  const messages: Record<string, string> = {
    create: 'non-root user cannot create clusters. abort.',
    start: 'non-root user cannot start clusters. abort.',
    stop: 'non-root user cannot stop clusters. abort.',
  }
  const asRoot = process.geteuid?.() === 0
  let setpriv = false
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' })
    setpriv = true
  } catch {
    // no setpriv
  }
  assert.ok(!asRoot || setpriv, 'running as root, this test needs setpriv (util-linux) to run kube-spawn as another user')
  for (const [command, message] of Object.entries(messages)) {
    const argv = [join(binDir, 'kube-spawn'), '-d', dir, command, '-c', cluster('nonroot')]
    const r = asRoot ? await run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv], env) : await run(argv, env)
    assert.is(r.code, 1, `${command}: ${r.stderr}`)
    assert.is(r.stderr, `${message}\n`)
  }
  assert.not.ok(existsSync(join(dir, cluster('nonroot'))))
})

test('create writes kspawn.toml and the rootfs; creating again regenerates it', async () => {
  const { tree } = build()
  const name = cluster('alpha')
  const r = await ks(['create', '--dev', '-t', tag, '-c', name])
  assert.is(r.code, 0, r.stderr)
  assert.is(
    r.stderr,
    [`creating cluster environment "${name}"`, 'spawning from local kubernetes build', ...(r.stderr.includes('downloading socat') ? ['downloading socat'] : []), 'ensuring environment', 'generating scripts', 'copying files into environment', 'created cluster config', ''].join('\n'),
  )
  const toml = await readFile(join(dir, name, 'kspawn.toml'), 'utf8')
  for (const line of [`cluster-name = "${name}"`, 'dev = true', `hyperkube-tag = "${tag}"`, 'nodes = 2', 'kubernetes-version = "latest"', `name = "kubespawn${name}0"`, `name = "kubespawn${name}1"`]) {
    assert.ok(toml.includes(line), `${line} in\n${toml}`)
  }
  const kubelet = await readFile(join(tree.tree, '_output/dockerized/bin/linux/amd64/kubelet'), 'utf8')
  assert.is(await readFile(join(dir, name, 'rootfs/usr/bin/kubelet'), 'utf8'), kubelet)
  assert.ok(existsSync(join(dir, name, 'rootfs/etc/kubeadm/kubeadm.yml')))
  assert.ok(existsSync(join(dir, name, `kubespawn${name}0`, 'mount')))
  // kube-spawn v0.2.1 does not refuse an existing cluster: create runs again over it.
  const again = await ks(['create', '--dev', '-t', tag, '-c', name])
  assert.is(again.code, 0, again.stderr)
  assert.ok(again.stderr.includes('created cluster config'))
})

test('start makes the machines, runs kubeadm in them, starts the API server and writes the kubeconfig', async () => {
  const { gitVersion } = build()
  const name = cluster('alpha')
  const r = await ks(['start', '-c', name])
  assert.is(r.code, 0, r.stderr)
  for (const line of [
    `using config from ${dir}/${name}`,
    `spawning cluster "${name}" (2 machines)`,
    `machine "kubespawn${name}0" started`,
    `cluster "${name}" started`,
    `Connected to machine kubespawn${name}0. Press ^] three times within 1s to exit session.`,
    `cluster "${name}" initialized`,
    `export KUBECONFIG=${dir}/${name}/kubeconfig`,
  ]) {
    assert.ok(r.stderr.includes(line + '\n'), `${line} in\n${r.stderr}`)
  }
  // kubeadm's own output, through the machine: init marked the master through the API server...
  for (const line of [
    `[markmaster] Master kubespawn${name}0 tainted and labelled with key/value: node-role.kubernetes.io/master=""`,
    'Your Kubernetes master has initialized successfully!',
    "Run 'kubectl get nodes' on the master to see this machine join.",
  ]) {
    assert.ok(r.stdout.includes(line + '\n'), `${line} in\n${r.stdout}`)
  }
  // ...and join left the node's kubelet the token and the master's address kube-spawn gave it.
  const bootstrap = await docker(['exec', `kubespawn${name}1`, 'cat', '/etc/kubernetes/bootstrap-kubelet.conf'])
  assert.match(bootstrap.stdout, /^ {4}server: https:\/\/10\.22\.0\.\d+:6443$/m)
  assert.match(bootstrap.stdout, /^ {4}token: [a-z0-9]{6}\.[a-z0-9]{16}$/m)

  for (const i of [0, 1]) {
    const machine = `kubespawn${name}${i}`
    const inspect = await docker(['container', 'inspect', '--format', '{{.State.Running}} {{.Config.Image}} {{json .Config.Entrypoint}} {{.HostConfig.NetworkMode}}', machine])
    assert.is(inspect.stdout.trim(), `true ${image} ["/usr/bin/kubelet"] none`)
    const version = await docker(['exec', machine, '/usr/bin/kubelet', '--version'])
    assert.is(version.stdout.trim(), `Kubernetes ${gitVersion}`)
    assert.is((await docker(['exec', machine, '/usr/bin/kubeadm', '--version'])).stdout.trim(), `Kubernetes ${gitVersion}`)
  }

  const kubeconfig = await readFile(join(dir, name, 'kubeconfig'), 'utf8')
  const ready = JSON.parse(await readFile(join(dir, name, 'apiserver.json'), 'utf8')) as { pid: number; url: string }
  assert.ok(isAlive(ready.pid))
  assert.ok(kubeconfig.includes(`server: ${ready.url}\n`), kubeconfig)
  for (const line of ['  name: kubernetes', '  name: kubernetes-admin@kubernetes', 'current-context: kubernetes-admin@kubernetes', '- name: kubernetes-admin']) {
    assert.ok(kubeconfig.includes(line + '\n'), `${line} in\n${kubeconfig}`)
  }
  // The node's kubelet registers once join has given it its kubeconfig, shortly after start returned.
  let nodes = ''
  await eventually(() => `both nodes listed (kubectl get nodes -o name: ${JSON.stringify(nodes)})`, 60, async () => {
    nodes = (await run(['kubectl', '--kubeconfig', join(dir, name, 'kubeconfig'), 'get', 'nodes', '-o', 'name'], env)).stdout
    return nodes === `node/kubespawn${name}0\nnode/kubespawn${name}1\n`
  })

  // The configuration says the machines run, so starting again does nothing.
  const again = await ks(['start', '-c', name])
  assert.is(again.code, 0)
  assert.is(again.stderr, `using config from ${dir}/${name}\ncluster is up\n`)
})

test('machinectl lists the machines of two clusters as in the article', async () => {
  build()
  const a = cluster('alpha')
  const b = cluster('alphafix')
  assert.is((await ks(['create', '--dev', '-t', tag, '-c', b])).code, 0)
  const started = await ks(['start', '-c', b])
  assert.is(started.code, 0, started.stderr)

  const list = await mc([])
  assert.is(list.code, 0, list.stderr)
  const lines = list.stdout.split('\n')
  assert.match(lines[0]!, /^MACHINE +CLASS +SERVICE +OS +VERSION +ADDRESSES$/)
  const rows = lines.slice(1, lines.indexOf(''))
  assert.is(lines.slice(lines.indexOf('')).join('\n'), `\n${rows.length} machines listed.\n`)
  const ours = rows.filter((row) => [0, 1].some((i) => row.startsWith(`kubespawn${a}${i} `) || row.startsWith(`kubespawn${b}${i} `)))
  assert.equal(
    ours.map((row) => row.split(/ +/).slice(0, 5).join(' ')),
    // sorted by name, as machinectl sorts them
    [`kubespawn${a}0`, `kubespawn${a}1`, `kubespawn${b}0`, `kubespawn${b}1`].sort().map((m) => `${m} container systemd-nspawn coreos 1492.1.0`),
  )
  // columns are aligned: every row starts its CLASS where the header does
  const classAt = lines[0]!.indexOf('CLASS')
  for (const row of rows) assert.is(row.slice(classAt, classAt + 10), 'container ')
  const addresses = ours.map((row) => row.split(/ +/)[5]!)
  for (const address of addresses) assert.match(address, /^10\.22\.0\.\d+\.\.\.$/)
  assert.is(new Set(addresses).size, 4)

  const bare = await mc(['list', '--no-legend', '--no-pager'])
  assert.equal(bare.stdout.split('\n').filter(Boolean), rows)

  const unknown = await mc(['frobnicate'])
  assert.is(unknown.code, 1)
  assert.is(unknown.stderr, 'Unknown operation frobnicate.\n')

  const envs = await ks(['list'])
  assert.match(envs.stderr, /^ENV NAME {12}LAST MODIFIED\n/)
  assert.match(envs.stderr, new RegExp(`\\n${a} +[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d\\n`))
})

test('a cluster name ending in a digit steps on the machines of another cluster', async () => {
  build()
  // kubespawn<name><index>: cluster "x" node 10 and cluster "x1" node 0 are both kubespawnx10.
  const big = cluster('x')
  const small = `${big}1`
  assert.is((await ks(['create', '--dev', '-t', tag, '-c', big, '-n', '11'])).code, 0)
  const bigStart = await ks(['start', '-c', big, '--skip-cluster-init'])
  assert.is(bigStart.code, 0, bigStart.stderr)
  assert.is((await ks(['create', '--dev', '-t', tag, '-c', small])).code, 0)

  const r = await ks(['start', '-c', small])
  // kube-spawn v0.2.1 reports it and exits 0
  assert.is(r.code, 0, r.stderr)
  assert.ok(
    r.stderr.includes(`failed to start machine: error cloning image: "${binDir}/machinectl clone coreos kubespawn${big}10" failed: Could not clone image: File exists\n`),
    r.stderr,
  )
  assert.ok(r.stderr.includes(`machine "kubespawn${small}1" started\n`), r.stderr)
  assert.ok(r.stderr.trimEnd().endsWith('not all machines started'), r.stderr)
  assert.not.ok(existsSync(join(dir, small, 'kubeconfig')))

  // Its machine list names kubespawn<big>10, so stopping it stops and removes the other cluster's node.
  const stop = await ks(['stop', '-c', small])
  assert.is(stop.code, 0, stop.stderr)
  assert.ok(stop.stderr.includes(`"kubespawn${big}10" stopped\n`), stop.stderr)
  assert.ok(stop.stderr.includes(`successfully removed image "kubespawn${big}10"\n`), stop.stderr)
  const names = await containerNames()
  assert.not.ok(names.includes(`kubespawn${big}10`))
  assert.ok(names.includes(`kubespawn${big}9`))
  // ...while that cluster's own configuration still says its node runs.
  assert.match(await readFile(join(dir, big, 'kspawn.toml'), 'utf8'), new RegExp(`name = "kubespawn${big}10"\\n(  # .*\\n)?  running = true`))

  // With the default two nodes, names ending in a digit do not collide.
  const y = cluster('y')
  for (const name of [y, `${y}1`]) {
    assert.is((await ks(['create', '--dev', '-t', tag, '-c', name])).code, 0)
    const s = await ks(['start', '-c', name, '--skip-cluster-init'])
    assert.is(s.code, 0, s.stderr)
    assert.ok(s.stderr.includes(`cluster "${name}" started\n`), s.stderr)
  }
  for (const name of [big, small, y, `${y}1`]) {
    const d = await ks(['destroy', '-c', name])
    assert.is(d.code, 0, d.stderr)
  }
  assert.not.ok((await containerNames()).some((n) => n.startsWith(`kubespawn${big}`) || n.startsWith(`kubespawn${y}`)))
})

test('a failed start leaves the machines running and the cluster "up"', async () => {
  build()
  // The upstream kubeadm names the master after its hostname as it is; with
  // capitals in it, the kubelet (which registers in lower case) is not that
  // node, and kubeadm init fails to mark the master (after 3 s here).
  const name = cluster('Broken')
  assert.is((await ks(['create', '--dev', '-t', tag, '-c', name])).code, 0)
  const r = await ks(['start', '-c', name], { KSPAWN_WORLD_MARK_MASTER_TIMEOUT: '3' })
  assert.is(r.code, 1)
  assert.ok(r.stdout.includes('error marking master: timed out waiting for the condition\n'), r.stdout)
  assert.ok(
    r.stderr.includes(`failed to initialize master node: "${binDir}/machinectl --setenv=KUBE_HYPERKUBE_IMAGE=\\"10.22.0.1:5000/hyperkube-amd64\\" shell kubespawn${name}0 /usr/bin/kubeadm init --skip-preflight-checks --config=/etc/kubeadm/kubeadm.yml" failed: \n`),
    r.stderr,
  )
  assert.not.ok(existsSync(join(dir, name, 'kubeconfig')))
  // The API server came up before kubeadm init and stays up, as the control plane's static pods would.
  const { pid } = JSON.parse(await readFile(join(dir, name, 'apiserver.json'), 'utf8')) as { pid: number }
  assert.ok(isAlive(pid))
  const running = await docker(['ps', '--filter', `name=^kubespawn${name}`, '--format', '{{.Names}}'])
  assert.equal(running.stdout.split('\n').filter(Boolean).sort(), [`kubespawn${name}0`, `kubespawn${name}1`])
  // The configuration recorded the machines as running: start believes the cluster is up.
  const again = await ks(['start', '-c', name])
  assert.is(again.code, 0)
  assert.ok(again.stderr.endsWith('cluster is up\n'), again.stderr)
  assert.is((await ks(['destroy', '-c', name])).code, 0)
  assert.not.ok((await containerNames()).some((n) => n.startsWith(`kubespawn${name}`)))
  assert.not.ok(isAlive(pid), 'destroy stops the API server')
})

test('stop and destroy take down machines, API server and files', async () => {
  build()
  const a = cluster('alpha')
  const b = cluster('alphafix')
  const emulator = (JSON.parse(await readFile(join(dir, a, 'apiserver.json'), 'utf8')) as { pid: number }).pid
  const stop = await ks(['stop', '-c', a])
  assert.is(stop.code, 0, stop.stderr)
  assert.is(
    stop.stderr.split('\n').sort().join('\n'),
    [`using config from ${dir}/${a}`, 'stopping 2 machines', `"kubespawn${a}0" stopped`, `"kubespawn${a}1" stopped`, `successfully removed image "kubespawn${a}0"`, `successfully removed image "kubespawn${a}1"`, ''].sort().join('\n'),
  )
  assert.not.ok(isAlive(emulator))
  assert.not.ok(existsSync(join(dir, a, 'apiserver.json')))
  assert.not.ok((await containerNames()).some((n) => n === `kubespawn${a}0` || n === `kubespawn${a}1`))
  assert.not.match(await readFile(join(dir, a, 'kspawn.toml'), 'utf8'), /running = true/)
  assert.is((await ks(['destroy', '-c', a])).code, 0)
  assert.not.ok(existsSync(join(dir, a)))

  // destroy stops a running cluster itself
  const other = (JSON.parse(await readFile(join(dir, b, 'apiserver.json'), 'utf8')) as { pid: number }).pid
  const destroy = await ks(['destroy', '-c', b])
  assert.is(destroy.code, 0, destroy.stderr)
  assert.ok(destroy.stderr.includes(`destroying cluster "${b}"\nforce stopping 2 machines\n`), destroy.stderr)
  assert.ok(destroy.stderr.endsWith(`"${b}" destroyed\n`), destroy.stderr)
  assert.not.ok(isAlive(other))
  assert.not.ok(existsSync(join(dir, b)))
  assert.not.ok((await containerNames()).some((n) => n.startsWith(`kubespawn${b}`)))
  const gone = await ks(['destroy', '-c', b])
  assert.is(gone.code, 1)
  assert.is(gone.stderr, `error loading config: open ${dir}/${b}/kspawn.toml: no such file or directory\n`)
})

test.run()
