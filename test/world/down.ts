// npm run world:down — stop what world:up started, by pid, and remove the
// state. Clusters' API server emulators (kube-spawn's and kind's) and their
// machines and nodes go first, so nothing the world made outlives it.
import { existsSync } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { $ } from 'zx'
import { isAlive, stop } from './process.ts'
import { paths, readRecord, runDir, stateDir } from './state.ts'

function log(message: string): void {
  process.stdout.write(`world: ${message}\n`)
}

/** pids of API server emulators that the kube-spawn and kind stand-ins started (their ready files). */
async function emulatorPids(): Promise<number[]> {
  const pids: number[] = []
  for (const dir of [paths.kubeSpawnDir, paths.kindDir]) {
    if (!existsSync(dir)) continue
    for (const cluster of await readdir(dir)) {
      const readyFile = join(dir, cluster, 'apiserver.json')
      try {
        const { pid } = JSON.parse(await readFile(readyFile, 'utf8')) as { pid: number }
        pids.push(pid)
      } catch {
        // no emulator was started for this cluster
      }
    }
  }
  return pids
}

/** An engine that had to be killed can leave container mounts (shm, netns) that block removal. */
async function unmountUnder(roots: string[]): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => roots.some((root) => target.startsWith(root + '/')))
    .reverse()
  for (const target of mounts) await $({ quiet: true, nothrow: true })`umount -l ${target}`
}

async function main(): Promise<void> {
  const record = await readRecord()
  for (const pid of await emulatorPids()) {
    if (isAlive(pid)) log(`API server emulator (pid ${pid}): ${await stop(pid, 5_000)}`)
  }
  if (record.dockerd && isAlive(record.dockerd.pid)) {
    // Removing containers first spares the engine's shutdown from waiting on
    // busybox PID 1 processes, which ignore SIGTERM.
    const docker = $({ quiet: true, nothrow: true, env: { ...process.env, DOCKER_HOST: `unix://${record.dockerd.socket}` } })
    const ids = (await docker`docker ps -aq`).stdout.split('\n').filter(Boolean)
    if (ids.length > 0) await docker`docker rm -f ${ids}`
    log(`Docker engine (pid ${record.dockerd.pid}): ${await stop(record.dockerd.pid, 30_000)}`)
  }
  if (record.registry && isAlive(record.registry.pid)) {
    log(`registry (pid ${record.registry.pid}): ${await stop(record.registry.pid)}`)
  }
  await unmountUnder([stateDir, runDir])
  await rm(stateDir, { recursive: true, force: true })
  await rm(runDir, { recursive: true, force: true })
  log(`removed ${stateDir}`)
}

main().catch((error: unknown) => {
  process.stderr.write(`world: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
