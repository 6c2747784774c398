// npm run world:up — start the test world: a private Docker engine, a
// registry on loopback, the base image, the fixture Kubernetes repositories,
// and env.sh. Running it again reuses whatever already runs.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { closeSync, existsSync, openSync } from 'node:fs'
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { $ } from 'zx'
import { generateFixture } from './fixture/generate.ts'
import { DEFAULT_BASE_IMAGE } from './standins/kind/build.ts'
import { binDir, paths, readRecord, runDir, stateDir, worldDir, writeEnvFile, writeRecord, type WorldRecord } from './state.ts'
import { isAlive, waitFor } from './process.ts'

const quiet = $({ quiet: true, nothrow: true })

/** A Debian package, the command that shows it is installed, and why the world needs it. */
interface Requirement {
  pkg: string
  present: () => Promise<boolean>
  why: string
}

const onPath = async (cmd: string) => (await quiet`command -v ${cmd}`).exitCode === 0
const requirements: Requirement[] = [
  { pkg: 'docker.io', present: async () => (await onPath('dockerd')) && (await onPath('docker')), why: 'the Docker engine and client' },
  { pkg: 'docker-registry', present: () => onPath('docker-registry'), why: 'the container registry on 127.0.0.1' },
  // The base image needs a statically linked busybox: an imported root has no libc.
  { pkg: 'busybox-static', present: async () => (await quiet`dpkg-query -W -f=${'${Status}'} busybox-static`).stdout.includes('install ok installed'), why: 'the base image (imported, since nothing can be pulled)' },
  { pkg: 'kubernetes-client', present: () => onPath('kubectl'), why: 'kubectl' },
  { pkg: 'gh', present: () => onPath('gh'), why: 'the GitHub CLI, whose `gh auth token` kspawn pr reads a token from' },
  { pkg: 'git', present: () => onPath('git'), why: 'the fixture repositories' },
  { pkg: 'make', present: () => onPath('make'), why: 'make -C cluster/images/hyperkube' },
  { pkg: 'sudo', present: () => onPath('sudo'), why: "the real sudo, whose answer to a user who is not root kspawn doctor's sudo -n check reports" },
]

async function ensurePackages(): Promise<void> {
  const missing: Requirement[] = []
  for (const req of requirements) if (!(await req.present())) missing.push(req)
  if (missing.length === 0) return
  const names = missing.map((m) => m.pkg)
  if (process.getuid?.() !== 0) {
    const list = missing.map((m) => `  - ${m.pkg}: ${m.why}`).join('\n')
    throw new Error(`The test world needs Debian packages that are not installed:\n${list}\nInstall them as root: apt-get install ${names.join(' ')}`)
  }
  log(`installing Debian packages: ${names.join(' ')}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  await $({ env, quiet: true })`apt-get update -qq`
  await $({ env, quiet: true })`apt-get install -y -qq ${names}`
}

function log(message: string): void {
  process.stdout.write(`world: ${message}\n`)
}

/** Start a daemon detached from this process, its output in a log file. */
async function daemon(argv: string[], logFile: string): Promise<number> {
  await mkdir(join(logFile, '..'), { recursive: true })
  const out = openSync(logFile, 'a')
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out] })
  closeSync(out)
  child.unref()
  if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`)
  return child.pid
}

const docker = (args: string[]) => $({ quiet: true, nothrow: true, env: { ...process.env, DOCKER_HOST: `unix://${paths.docker.socket}` } })`docker ${args}`

async function ensureDockerd(record: WorldRecord): Promise<void> {
  if (record.dockerd && isAlive(record.dockerd.pid) && (await docker(['version'])).exitCode === 0) {
    log(`Docker engine already running (pid ${record.dockerd.pid})`)
    return
  }
  await mkdir(paths.docker.dataRoot, { recursive: true })
  await mkdir(paths.docker.execRoot, { recursive: true })
  // A stale socket or pidfile from an engine that died makes dockerd refuse to start.
  await rm(paths.docker.socket, { force: true })
  await rm(paths.docker.pidfile, { force: true })
  const pid = await daemon(
    [
      'dockerd',
      '--storage-driver=vfs',
      '--iptables=false',
      '--bridge=none',
      `--data-root=${paths.docker.dataRoot}`,
      `--exec-root=${paths.docker.execRoot}`,
      `--pidfile=${paths.docker.pidfile}`,
      `--host=unix://${paths.docker.socket}`,
    ],
    paths.docker.log,
  )
  record.dockerd = { pid, socket: paths.docker.socket }
  await writeRecord(record)
  await waitFor(`the Docker engine (log: ${paths.docker.log})`, 60_000, async () => isAlive(pid) && (await docker(['version'])).exitCode === 0, () => isAlive(pid))
  log(`Docker engine started (pid ${pid}, socket ${paths.docker.socket})`)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function registryAnswers(address: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${address}/v2/`)
    return response.status === 200
  } catch {
    return false
  }
}

async function ensureRegistry(record: WorldRecord): Promise<string> {
  if (record.registry && isAlive(record.registry.pid) && (await registryAnswers(record.registry.address))) {
    log(`registry already running at ${record.registry.address}`)
    return record.registry.address
  }
  const address = `127.0.0.1:${await freePort()}`
  await mkdir(paths.registry.data, { recursive: true })
  // docker-registry's own config format (distribution v2); no auth: it only listens on loopback.
  const config = [
    'version: 0.1',
    'log:',
    '  level: info',
    'storage:',
    '  delete:',
    '    enabled: true',
    '  filesystem:',
    `    rootdirectory: ${paths.registry.data}`,
    'http:',
    `  addr: ${address}`,
    '',
  ].join('\n')
  await writeFile(paths.registry.config, config)
  const pid = await daemon(['docker-registry', 'serve', paths.registry.config], paths.registry.log)
  record.registry = { pid, address }
  await writeRecord(record)
  await waitFor(`the registry at ${address} (log: ${paths.registry.log})`, 30_000, () => registryAnswers(address), () => isAlive(pid))
  log(`registry started at ${address} (pid ${pid})`)
  return address
}

/** busybox:latest, imported from busybox-static since no image can be pulled. */
async function ensureBaseImage(): Promise<void> {
  if ((await docker(['image', 'inspect', 'busybox:latest'])).exitCode === 0) return
  const root = paths.baseImageRoot
  await rm(root, { recursive: true, force: true })
  for (const dir of ['bin', 'etc', 'tmp', 'root', 'usr/bin', 'var']) await mkdir(join(root, dir), { recursive: true })
  await copyFile('/bin/busybox', join(root, 'bin', 'busybox'))
  await chmod(join(root, 'bin', 'busybox'), 0o755)
  const applets = (await $({ quiet: true })`/bin/busybox --list`).stdout.split('\n').filter((a) => a && a !== 'busybox')
  // Relative links, so they resolve inside the image, not to the host's busybox.
  for (const applet of applets) await symlink('busybox', join(root, 'bin', applet))
  await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n')
  await writeFile(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n')
  await chmod(join(root, 'tmp'), 0o1777)
  const tar = $({ quiet: true, cwd: root })`tar -c .`
  const imported = await tar.pipe(
    $({ quiet: true, env: { ...process.env, DOCKER_HOST: `unix://${paths.docker.socket}` } })`docker import --change ${'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'} --change ${'CMD ["sh"]'} - busybox:latest`,
  )
  await rm(root, { recursive: true, force: true })
  log(`base image busybox:latest imported (${imported.stdout.trim().slice(0, 19)})`)
}

/** A digest of a folder's files (path, mode, content), to tell an image built from it is current. */
async function folderDigest(dir: string): Promise<string> {
  const hash = createHash('sha256')
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const entry of entries) {
      const path = join(rel, entry.name)
      if (entry.isDirectory()) await walk(path)
      else hash.update(`\0${path}\0${(await stat(join(dir, path))).mode & 0o111 ? 'x' : '-'}\0`).update(await readFile(join(dir, path)))
    }
  }
  await walk('')
  return hash.digest('hex').slice(0, 16)
}

/**
 * kind's base image, stood in for by standins/kind-base (nothing can be
 * pulled): built FROM busybox:latest under kind v0.32.0's default name, and
 * rebuilt when its files change.
 */
async function ensureKindBaseImage(): Promise<void> {
  const context = join(worldDir, 'standins', 'kind-base')
  const digest = await folderDigest(context)
  const label = 'io.kspawn.world.kind-base.digest'
  const current = await docker(['image', 'inspect', '--format', `{{index .Config.Labels "${label}"}}`, DEFAULT_BASE_IMAGE])
  if (current.exitCode === 0 && current.stdout.trim() === digest) return
  const built = await docker(['build', '--quiet', '--label', `${label}=${digest}`, '--tag', DEFAULT_BASE_IMAGE, context])
  if (built.exitCode !== 0) throw new Error(`docker build of kind's base image (${context}) failed:\n${built.stderr}`)
  log(`kind's base image ${DEFAULT_BASE_IMAGE} built from ${context}`)
}

async function main(): Promise<void> {
  await ensurePackages()
  await mkdir(stateDir, { recursive: true })
  await mkdir(runDir, { recursive: true })
  const record = await readRecord()
  await ensureDockerd(record)
  const registry = await ensureRegistry(record)
  await ensureBaseImage()
  await ensureKindBaseImage()
  const fixture = await generateFixture(paths.fixture)
  log(`fixture repositories in ${paths.fixture}`)
  await mkdir(paths.kubeSpawnDir, { recursive: true })
  await writeEnvFile({
    DOCKER_HOST: `unix://${paths.docker.socket}`,
    KSPAWN_WORLD_STATE: stateDir,
    KSPAWN_WORLD_REGISTRY: registry,
    KSPAWN_WORLD_UPSTREAM: fixture.upstream,
    KSPAWN_WORLD_FORK: fixture.fork,
    GOPATH: fixture.gopath,
    KSPAWN_WORLD_CHECKOUT: fixture.checkout,
    KSPAWN_WORLD_KUBE_SPAWN_DIR: paths.kubeSpawnDir,
  })
  for (const standin of ['kube-spawn', 'machinectl', 'kind']) {
    if (!existsSync(join(binDir, standin))) throw new Error(`missing stand-in ${join(binDir, standin)}`)
  }
  log(`ready. Use it from a shell with: source ${paths.env}`)
}

main().catch((error: unknown) => {
  process.stderr.write(`world: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
