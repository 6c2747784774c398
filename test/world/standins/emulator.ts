// The API server of a started cluster: in kube-spawn it runs in the master
// machine, started by `kubeadm init`; here it is the world's emulator
// (test/world/apiserver), one process per cluster, whose pid and URL are in
// <cluster dir>/apiserver.json. Also the admin kubeconfig kubeadm writes.
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ApiServerSpec, ReadyInfo } from '../apiserver/spec.ts'
import { lookPath, run, sleep } from './run.ts'
import { isAlive } from '../process.ts'

export const worldDir = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const repoDir = resolve(worldDir, '..', '..')

export const readyFileName = 'apiserver.json'
export const specFileName = 'apiserver-spec.json'
export const logFileName = 'apiserver.log'

/** The emulator's entry point; KSPAWN_WORLD_APISERVER_MAIN runs another build of it. */
export function emulatorMain(): string {
  return process.env.KSPAWN_WORLD_APISERVER_MAIN || join(worldDir, 'apiserver', 'main.ts')
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/**
 * Start the emulator for a cluster, detached, its output in apiserver.log,
 * and wait (bounded) until it has written its ready file.
 */
export async function startEmulator(clusterDir: string, spec: Omit<ApiServerSpec, 'readyFile'>, timeoutMs = 30_000): Promise<ReadyInfo> {
  const main = emulatorMain()
  if (!existsSync(main)) throw new Error(`the API server emulator is missing (${main})`)
  const readyFile = resolve(clusterDir, readyFileName)
  const specFile = resolve(clusterDir, specFileName)
  const logFile = resolve(clusterDir, logFileName)
  await rm(readyFile, { force: true })
  const full: ApiServerSpec = { ...spec, readyFile }
  await writeFile(specFile, JSON.stringify(full, null, 2) + '\n')
  const out = openSync(logFile, 'a')
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--spec', specFile], {
    cwd: repoDir,
    detached: true,
    stdio: ['ignore', out, out],
    env: process.env,
  })
  closeSync(out)
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  child.on('error', () => (exited = -1))
  child.unref()
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const info = JSON.parse(await readFile(readyFile, 'utf8')) as ReadyInfo
      if (typeof info.url === 'string' && typeof info.pid === 'number') return info
    } catch {
      // not written (completely) yet
    }
    if (exited !== undefined) {
      throw new Error(`the API server emulator exited (status ${exited}) before it was ready; ${logFile}:\n${tail(logFile)}`)
    }
    await sleep(100)
  }
  if (child.pid !== undefined && isAlive(child.pid)) process.kill(child.pid, 'SIGKILL')
  throw new Error(`the API server emulator was not ready after ${timeoutMs / 1000}s; ${logFile}:\n${tail(logFile)}`)
}

/** The emulator recorded in <cluster dir>/apiserver.json, if that process is still the emulator for this cluster. */
export function emulatorPid(clusterDir: string): number | null {
  const readyFile = resolve(clusterDir, readyFileName)
  let pid: number
  try {
    pid = (JSON.parse(readFileSync(readyFile, 'utf8')) as ReadyInfo).pid
  } catch {
    return null
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return null
  try {
    // Guard against a recycled pid: it must be the emulator started with this cluster's spec.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
    if (!cmdline.includes(resolve(clusterDir, specFileName))) return null
  } catch {
    return null
  }
  return pid
}

/** Stop a cluster's emulator (SIGTERM, then SIGKILL) and forget its ready file. */
export async function stopEmulator(clusterDir: string): Promise<boolean> {
  const pid = emulatorPid(clusterDir)
  let stopped = false
  if (pid !== null) {
    try {
      process.kill(pid, 'SIGTERM')
      const deadline = Date.now() + 5_000
      while (isAlive(pid) && Date.now() < deadline) await sleep(50)
      if (isAlive(pid)) process.kill(pid, 'SIGKILL')
      while (isAlive(pid)) await sleep(20)
      stopped = true
    } catch {
      // not ours to signal (EPERM): leave it
      return false
    }
  }
  await rm(resolve(clusterDir, readyFileName), { force: true })
  return stopped
}

const b64 = (s: string): string => Buffer.from(s).toString('base64')

/**
 * /etc/kubernetes/admin.conf as kubeadm v1.8 writes it: cluster "kubernetes",
 * user "kubernetes-admin", context "kubernetes-admin@kubernetes", with a CA and
 * an admin client certificate (O=system:masters) made with openssl under the
 * machine's /etc/kubernetes/pki. The server is the emulator's URL.
 */
export async function writeAdminConf(etcKubernetes: string, server: string): Promise<string> {
  const pki = join(etcKubernetes, 'pki')
  await mkdir(pki, { recursive: true })
  const cluster: string[] = [`    server: ${server}`]
  let user: string[]
  const openssl = lookPath('openssl')
  const certs = openssl ? await makeCerts(openssl, pki) : null
  if (certs) {
    if (server.startsWith('https:')) cluster.unshift('    insecure-skip-tls-verify: true')
    else cluster.unshift(`    certificate-authority-data: ${b64(certs.ca)}`)
    user = [`    client-certificate-data: ${b64(certs.cert)}`, `    client-key-data: ${b64(certs.key)}`]
  } else {
    if (server.startsWith('https:')) cluster.unshift('    insecure-skip-tls-verify: true')
    user = [`    token: ${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')}`]
  }
  const conf = [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    ...cluster,
    '  name: kubernetes',
    'contexts:',
    '- context:',
    '    cluster: kubernetes',
    '    user: kubernetes-admin',
    '  name: kubernetes-admin@kubernetes',
    'current-context: kubernetes-admin@kubernetes',
    'kind: Config',
    'preferences: {}',
    'users:',
    '- name: kubernetes-admin',
    '  user:',
    ...user,
    '',
  ].join('\n')
  const file = join(etcKubernetes, 'admin.conf')
  await writeFile(file, conf, { mode: 0o600 })
  return file
}

async function makeCerts(openssl: string, pki: string): Promise<{ ca: string; cert: string; key: string } | null> {
  const work = await mkdtemp(join(tmpdir(), 'kube-spawn-pki-'))
  try {
    const steps = [
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(pki, 'ca.key'), '-out', join(pki, 'ca.crt'), '-days', '3650', '-subj', '/CN=kubernetes'],
      ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(work, 'admin.key'), '-out', join(work, 'admin.csr'), '-subj', '/O=system:masters/CN=kubernetes-admin'],
      ['x509', '-req', '-in', join(work, 'admin.csr'), '-CA', join(pki, 'ca.crt'), '-CAkey', join(pki, 'ca.key'), '-CAcreateserial', '-out', join(work, 'admin.crt'), '-days', '3650'],
    ]
    for (const args of steps) {
      if ((await run([openssl, ...args])).code !== 0) return null
    }
    return {
      ca: await readFile(join(pki, 'ca.crt'), 'utf8'),
      cert: await readFile(join(work, 'admin.crt'), 'utf8'),
      key: await readFile(join(work, 'admin.key'), 'utf8'),
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
