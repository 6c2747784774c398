// Serving the API inside a machine, where kubeadm looks for it: kube-spawn's
// master runs the API server, and `kubeadm init` there waits for it and
// marks its node through it. Test-world machines have no network, so the
// emulator listens on a unix socket on the host and relay.ts, started in the
// machine's network namespace (nsenter, as root), listens on the port there
// and passes each connection on, to be served like kubectl's.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { docker } from './docker.ts'

const RELAY = join(dirname(fileURLToPath(import.meta.url)), 'relay.ts')
const READY_TIMEOUT_MS = 60_000

export interface MachinePort {
  close(): Promise<void>
}

/** Listens on 127.0.0.1:<port> inside the running machine, handing each connection to `serve`; fails with nsenter's or the relay's words. */
export async function serveInMachine(machine: string, port: number, serve: (socket: Socket) => void): Promise<MachinePort> {
  const { stdout } = await docker(['container', 'inspect', '--format', '{{.State.Pid}}', machine])
  const pid = Number(stdout.trim())
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`cannot serve on port ${port} in machine ${machine}: it is not running`)

  // A short path: unix socket paths are limited to 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), 'kspawn-api-'))
  const socketPath = join(dir, 'sock')
  const unix: Server = createServer({ allowHalfOpen: true }, serve)
  await new Promise<void>((resolve, reject) => {
    unix.once('error', reject)
    unix.listen(socketPath, () => resolve())
  })

  const relay = spawn(
    'nsenter',
    [`--net=/proc/${pid}/ns/net`, '--', process.execPath, '--import', import.meta.resolve('tsx'), RELAY, '--listen', `127.0.0.1:${port}`, '--socket', socketPath],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  const close = async (): Promise<void> => {
    await stopRelay(relay)
    await new Promise<void>((resolve) => unix.close(() => resolve()))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await relayListening(relay, READY_TIMEOUT_MS)
  } catch (error) {
    await close()
    throw new Error(`cannot serve on port ${port} in machine ${machine}: ${(error as Error).message}`)
  }
  return { close }
}

function relayListening(relay: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => reject(new Error(`the relay did not listen within ${timeoutMs / 1000}s: ${stderr.trim()}`)), timeoutMs)
    relay.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes('listening\n')) {
        clearTimeout(timer)
        resolve()
      }
    })
    relay.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    relay.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    relay.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${stderr.trim() || 'the relay'} (exit ${code ?? signal})`))
    })
  })
}

async function stopRelay(relay: ChildProcess): Promise<void> {
  if (relay.exitCode !== null || relay.signalCode !== null) return
  const exited = new Promise<void>((resolve) => relay.once('exit', () => resolve()))
  relay.kill('SIGTERM')
  await exited
}
