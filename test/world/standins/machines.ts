// systemd-machined's view of kube-spawn's machines, kept on the world's
// Docker engine: a machine image (what `machinectl clone` makes) is a
// container, a running machine is a running container. Both the machinectl
// stand-in and kube-spawn's go through here; errors carry machinectl's own
// words (its stderr), which kube-spawn quotes in its messages.
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopEmulator } from './emulator.ts'
import { docker, sleep, type Result } from './run.ts'
import { LABEL_NODE } from '../apiserver/kubelet.ts'

export const LABEL = 'kube-spawn.world'
export const labels = {
  machine: `${LABEL}/machine`,
  address: `${LABEL}/address`,
  cluster: `${LABEL}/cluster`,
  clusterDir: `${LABEL}/cluster-dir`,
  role: `${LABEL}/role`,
}

/** What `machinectl list` shows for a kube-spawn machine (the CoreOS image kube-spawn v0.2 pulled). */
export const MACHINE_CLASS = 'container'
export const MACHINE_SERVICE = 'systemd-nspawn'
export const MACHINE_OS = 'coreos'
export const MACHINE_VERSION = '1492.1.0'

export interface Machine {
  name: string
  /** Docker's state: created, running, exited, ... */
  state: string
  running: boolean
  address: string
  cluster: string
  clusterDir: string
  role: string
}

/** An operation machinectl refused; message is what machinectl prints on stderr. */
export class MachinectlError extends Error {}

/** machined asks polkit for anything but reading; without an agent, non-root gets this. */
function requirePrivilege(what: string): void {
  if (process.geteuid?.() !== 0) throw new MachinectlError(`${what}: Interactive authentication required.`)
}

function dockerFailure(r: Result): string {
  const lines = (r.stderr.trim() || r.stdout.trim()).split('\n').filter((l) => !l.startsWith('WARNING:'))
  return lines.join('\n').replace(/^Error response from daemon: /, '')
}

/** Every kube-spawn machine image on the engine, running or not, sorted by name. */
export async function listMachines(): Promise<Machine[]> {
  const format = ['{{.Names}}', '{{.State}}', ...[labels.address, labels.cluster, labels.clusterDir, labels.role].map((l) => `{{.Label "${l}"}}`)].join('\t')
  const r = await docker(['ps', '-a', '--no-trunc', '--filter', `label=${labels.machine}`, '--format', format])
  if (r.code !== 0) throw new MachinectlError(`Could not get machines: ${dockerFailure(r)}`)
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', state = '', address = '', cluster = '', clusterDir = '', role = ''] = line.split('\t')
      return { name, state, running: state === 'running', address, cluster, clusterDir, role }
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}

export async function getMachine(name: string): Promise<Machine | null> {
  return (await listMachines()).find((m) => m.name === name) ?? null
}

/** machined's image_name_is_valid, within what Docker accepts as a container name. */
export function imageNameIsValid(name: string): boolean {
  return name.length <= 64 && /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)
}

/**
 * Held while addresses are handed out and machine images created, so that
 * clusters started side by side get distinct addresses (the CNI host-local
 * IPAM's job in kube-spawn, docker's IPAM on kind's network). A directory in
 * the temp dir, per engine.
 */
export async function withMachineLock<T>(fn: () => Promise<T>): Promise<T> {
  const id = createHash('sha256').update(process.env.DOCKER_HOST ?? 'default').digest('hex').slice(0, 12)
  const lock = join(tmpdir(), `kube-spawn-world-${id}.lock`)
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      mkdirSync(lock)
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { recursive: true, force: true })
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new MachinectlError('Failed to acquire the machine lock')
      await sleep(25)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** The CNI network's gateway is 10.22.0.1; machines get the lowest address not in use. */
function freeAddress(used: Set<string>): string {
  for (let i = 2; i < 255; i++) {
    const address = `10.22.0.${i}`
    if (!used.has(address)) return address
  }
  throw new MachinectlError('no free address left in 10.22.0.0/24')
}

export interface CloneOptions {
  /** The image kube-spawn clones from (cfg.Image, "coreos"). */
  baseImage: string
  /** The Docker image the machine's root comes from. */
  dockerImage: string
  cluster: string
  clusterDir: string
  role: 'master' | 'node'
  /** The machine's main process: /usr/bin/kubelet with these arguments. */
  kubeletArgs: (address: string) => string[]
}

/**
 * `machinectl clone <base> <name>`: create the machine's image (a created,
 * not yet started container), with the address the CNI bridge will give it.
 */
export async function clone(name: string, options: CloneOptions): Promise<string> {
  requirePrivilege('Could not clone image')
  if (options.baseImage !== 'coreos') throw new MachinectlError(`Could not clone image: No image '${options.baseImage}' known`)
  if (!imageNameIsValid(name)) throw new MachinectlError(`Could not clone image: Image name '${name}' is invalid.`)
  return withMachineLock(async () => {
    const machines = await listMachines()
    const existing = await docker(['container', 'inspect', '--format', '{{.Name}}', name])
    if (existing.code === 0 || machines.some((m) => m.name === name)) throw new MachinectlError('Could not clone image: File exists')
    const address = freeAddress(new Set(machines.map((m) => m.address)))
    const r = await docker([
      'create',
      '--pull', 'never',
      '--name', name,
      '--hostname', name,
      '--network', 'none',
      // an init as PID 1 passes poweroff's SIGTERM on to kubelet
      '--init',
      '--label', `${labels.machine}=${name}`,
      '--label', `${labels.address}=${address}`,
      '--label', `${labels.cluster}=${options.cluster}`,
      '--label', `${labels.clusterDir}=${options.clusterDir}`,
      '--label', `${labels.role}=${options.role}`,
      '--entrypoint', '/usr/bin/kubelet',
      options.dockerImage,
      ...options.kubeletArgs(address),
    ])
    if (r.code !== 0) {
      if (/Conflict/.test(r.stderr)) throw new MachinectlError('Could not clone image: File exists')
      throw new MachinectlError(`Could not clone image: ${dockerFailure(r)}`)
    }
    return address
  })
}

/** The CoreOS Container Linux image kube-spawn v0.2 cloned its machines from, as far as it shows. */
const coreosOsRelease = `NAME="Container Linux by CoreOS"
ID=coreos
VERSION=${MACHINE_VERSION}
VERSION_ID=${MACHINE_VERSION}
BUILD_ID=2017-07-18-2331
PRETTY_NAME="Container Linux by CoreOS ${MACHINE_VERSION} (Ladybug)"
ANSI_COLOR="38;5;75"
HOME_URL="https://coreos.com/"
BUG_REPORT_URL="https://issues.coreos.com"
COREOS_BOARD="amd64-usr"
`

let coreosRoot: string | undefined
function coreosBase(): string {
  if (!coreosRoot) {
    coreosRoot = mkdtempSync(join(tmpdir(), 'kube-spawn-coreos-'))
    mkdirSync(join(coreosRoot, 'etc'))
    writeFileSync(join(coreosRoot, 'etc', 'os-release'), coreosOsRelease)
    process.once('exit', () => rmSync(coreosRoot!, { recursive: true, force: true }))
  }
  return coreosRoot
}

/**
 * What systemd-nspawn does when cnispawn boots the machine: the cluster's
 * shared root (and the machine's own upper layer) overlaid on the image,
 * then the machine runs. Here: copied in, then the container started.
 */
export async function boot(name: string, roots: string[]): Promise<void> {
  for (const root of [coreosBase(), ...roots]) {
    const r = await docker(['cp', `${root}/.`, `${name}:/`])
    if (r.code !== 0) throw new Error(`failed to overlay ${root}: ${dockerFailure(r)}`)
  }
  const r = await docker(['start', name])
  if (r.code !== 0) throw new Error(dockerFailure(r))
}

/** `systemctl --machine <name> status basic.target --state=running` succeeds */
export async function isRunning(name: string): Promise<boolean> {
  const r = await docker(['container', 'inspect', '--format', '{{.State.Running}}', name])
  return r.code === 0 && r.stdout.trim() === 'true'
}

/** `machinectl show-image <name>` succeeds */
export async function imageExists(name: string): Promise<boolean> {
  return (await getMachine(name).catch(() => null)) !== null
}

/** A master machine takes its cluster's API server down with it. */
async function afterMachineDown(machine: Machine): Promise<void> {
  if (machine.role === 'master' && machine.clusterDir) await stopEmulator(machine.clusterDir)
  // A pod's container ran inside the machine in the original, so it goes down with it. Its
  // node is named as the machine's kubelet registered it: --hostname-override=<machine>, lower-cased.
  const pods = await docker(['ps', '-aq', '--filter', `label=${LABEL_NODE}=${machine.name.toLowerCase()}`])
  const ids = pods.stdout.split('\n').filter(Boolean)
  if (ids.length > 0) await docker(['rm', '-f', ...ids])
}

async function runningMachine(name: string, verb: string): Promise<Machine> {
  const machine = await getMachine(name)
  if (!machine || !machine.running) throw new MachinectlError(`Could not ${verb} machine: No machine '${name}' known`)
  return machine
}

/** `machinectl poweroff`: a clean shutdown (SIGTERM, then the container is stopped). */
export async function poweroff(name: string): Promise<void> {
  requirePrivilege('Could not kill machine')
  const machine = await runningMachine(name, 'kill')
  const r = await docker(['stop', '--time', '10', name])
  if (r.code !== 0) throw new MachinectlError(`Could not kill machine: ${dockerFailure(r)}`)
  await afterMachineDown(machine)
}

/** `machinectl terminate`: killed at once. */
export async function terminate(name: string): Promise<void> {
  requirePrivilege('Could not terminate machine')
  const machine = await runningMachine(name, 'terminate')
  const r = await docker(['kill', name])
  if (r.code !== 0 && !/is not running/.test(r.stderr)) throw new MachinectlError(`Could not terminate machine: ${dockerFailure(r)}`)
  for (let i = 0; i < 100 && (await isRunning(name)); i++) await sleep(50)
  await afterMachineDown(machine)
}

/** `machinectl remove`: removes the image; refused while the machine runs from it. */
export async function removeImage(name: string): Promise<void> {
  requirePrivilege('Could not remove image')
  const machine = await getMachine(name)
  if (!machine) throw new MachinectlError(`Could not remove image: No image '${name}' known`)
  if (machine.running) throw new MachinectlError('Could not remove image: Device or resource busy')
  const r = await docker(['rm', name])
  if (r.code !== 0) throw new MachinectlError(`Could not remove image: ${dockerFailure(r)}`)
  await afterMachineDown(machine)
}

/**
 * `machinectl shell <name> <command...>`: runs the command in the machine
 * (through a pty there, so its stdout and stderr arrive together on stdout).
 */
export async function shell(
  name: string,
  command: string[],
  options: { env?: Record<string, string>; stream: boolean },
): Promise<Result> {
  requirePrivilege('Failed to get shell PTY')
  if (!(await isRunning(name))) throw new MachinectlError(`Failed to get shell PTY: No machine '${name}' known`)
  const envArgs = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`])
  const argv = ['exec', ...envArgs, name, ...command]
  return docker(argv, options.stream ? { stdout: 'inherit', stderr: 'stdout' } : {})
}
