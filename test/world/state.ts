// Where the world keeps what it creates, and the env.sh that hands it to
// shells, tests and benchmarks.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const worldDir = dirname(fileURLToPath(import.meta.url))
export const repoDir = resolve(worldDir, '..', '..')
export const stateDir = process.env.KSPAWN_WORLD_STATE ?? join(worldDir, '.state')
export const binDir = join(worldDir, 'bin')

/**
 * containerd puts unix sockets under dockerd's exec-root, and a socket path
 * may not exceed 107 bytes; a clone in a deep folder would break that, so the
 * exec-root and the engine's socket live in a short folder named after the state.
 */
export const runDir = join('/tmp', `kspawn-world-${createHash('sha256').update(stateDir).digest('hex').slice(0, 10)}`)

export const paths = {
  world: join(stateDir, 'world.json'),
  env: join(stateDir, 'env.sh'),
  docker: {
    dataRoot: join(stateDir, 'docker', 'data'),
    execRoot: join(runDir, 'exec'),
    pidfile: join(runDir, 'dockerd.pid'),
    socket: join(runDir, 'docker.sock'),
    log: join(stateDir, 'docker', 'dockerd.log'),
  },
  registry: {
    config: join(stateDir, 'registry', 'config.yml'),
    data: join(stateDir, 'registry', 'data'),
    log: join(stateDir, 'registry', 'registry.log'),
  },
  baseImageRoot: join(stateDir, 'base-image-root'),
  fixture: join(stateDir, 'fixture'),
  kubeSpawnDir: join(stateDir, 'kube-spawn'),
  /** The kind stand-in's API server files, one folder per cluster ($KSPAWN_WORLD_STATE/kind). */
  kindDir: join(stateDir, 'kind'),
}

/** What world:up started, so world:down can stop exactly that, by pid. */
export interface WorldRecord {
  dockerd?: { pid: number; socket: string }
  registry?: { pid: number; address: string }
}

export async function readRecord(): Promise<WorldRecord> {
  try {
    return JSON.parse(await readFile(paths.world, 'utf8')) as WorldRecord
  } catch {
    return {}
  }
}

export async function writeRecord(record: WorldRecord): Promise<void> {
  await mkdir(dirname(paths.world), { recursive: true })
  await writeFile(paths.world, JSON.stringify(record, null, 2) + '\n')
}

/** The variables env.sh exports, in the order it exports them. */
export interface WorldEnv {
  DOCKER_HOST: string
  KSPAWN_WORLD_STATE: string
  KSPAWN_WORLD_REGISTRY: string
  KSPAWN_WORLD_UPSTREAM: string
  KSPAWN_WORLD_FORK: string
  GOPATH: string
  KSPAWN_WORLD_CHECKOUT: string
  KSPAWN_WORLD_KUBE_SPAWN_DIR: string
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

export async function writeEnvFile(env: WorldEnv): Promise<void> {
  const lines = [
    '# Written by `npm run world:up`; source it to use the test world from a shell.',
    ...Object.entries(env).map(([name, value]) => `export ${name}=${shellQuote(value)}`),
    `case ":$PATH:" in *:${shellQuote(binDir)}:*) ;; *) export PATH=${shellQuote(binDir)}:"$PATH" ;; esac`,
    '',
  ]
  await writeFile(paths.env, lines.join('\n'))
}

/**
 * The world's environment for a child process: what env.sh exports, with the
 * stand-ins first on PATH. Throws when the world is not up.
 */
export function loadWorldEnv(): WorldEnv & { PATH: string } {
  if (!existsSync(paths.env)) {
    throw new Error(`The test world is not up (no ${paths.env}). Run: npm run world:up`)
  }
  const env: Record<string, string> = {}
  for (const line of readFileSync(paths.env, 'utf8').split('\n')) {
    const match = /^export ([A-Z_]+)='(.*)'$/.exec(line)
    if (match) env[match[1]!] = match[2]!.replaceAll(`'\\''`, "'")
  }
  return { ...(env as unknown as WorldEnv), PATH: `${binDir}:${process.env.PATH ?? ''}` }
}
