// kube-spawn v0.2's cluster configuration: <dir>/<cluster>/kspawn.toml,
// pkg/config/{types,defaults,utils}.go. Precedence as with viper: flags that
// were given, then kspawn.toml, then defaults.
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseToml, stringifyToml, type TomlTable, type TomlValue } from './toml.ts'

export const Filename = 'kspawn.toml'
export const DefaultKubeSpawnDir = '/var/lib/kube-spawn'
export const DefaultClusterName = 'default'
export const DefaultContainerRuntime = 'docker'
export const DefaultKubernetesVersion = 'v1.7.5'
export const DefaultBaseImage = 'coreos'
export const DefaultRuntimeTimeout = '15m'
export const CacheDir = '.cache'

export interface Pathmap {
  src: string
  dst: string
}

export interface Bindmount {
  readOnly: Pathmap[]
  readWrite: Pathmap[]
}

export interface MachineConfiguration {
  running: boolean
  name: string
  ip: string
  bindmount: Bindmount
}

export interface RuntimeConfiguration {
  endpoint: string
  timeout: string
  useLegacyCgroupDriver: boolean
  cgroupPerQos: boolean
  failSwapOn: boolean
}

export interface ClusterConfiguration {
  kubeSpawnDir: string
  name: string
  containerRuntime: string
  kubernetesVersion: string
  image: string
  nodes: number
  imageGpgVerify: boolean
  devCluster: boolean
  hyperkubeTag: string
  runtimeConfiguration: RuntimeConfiguration
  bindmount: Bindmount
  token: string
  tokenGroupsOption: string
  machines: MachineConfiguration[]
}

/** machineNameTemplate = "kubespawn%s%d" */
export function machineName(clusterName: string, no: number): string {
  return `kubespawn${clusterName}${no}`
}

/** "TODO: this is not enough. need to always check machined" — counts what the config says. */
export function runningMachines(cfg: ClusterConfiguration): number {
  return cfg.machines.filter((m) => m.running).length
}

export const configPath = (dir: string, clusterName: string): string => join(dir, clusterName, Filename)
export const kubeconfigPath = (dir: string, clusterName: string): string => join(dir, clusterName, 'kubeconfig')

/** The viper keys and their defaults (SetDefaults_Viper plus the flags' own defaults). */
export interface Settings {
  dir: string
  'cluster-name': string
  'container-runtime': string
  'kubernetes-version': string
  'hyperkube-tag': string
  dev: boolean
  nodes: number
  image: string
  'cni-plugin-dir': string
}

export const defaultSettings: Settings = {
  dir: DefaultKubeSpawnDir,
  'cluster-name': DefaultClusterName,
  'container-runtime': DefaultContainerRuntime,
  'kubernetes-version': DefaultKubernetesVersion,
  'hyperkube-tag': 'latest',
  dev: false,
  nodes: 2,
  image: DefaultBaseImage,
  'cni-plugin-dir': '/opt/cni/bin',
}

function str(v: TomlValue | undefined, fallback: string): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : fallback
}
function bool(v: TomlValue | undefined, fallback: boolean): boolean {
  return typeof v === 'boolean' ? v : typeof v === 'string' ? v === 'true' : fallback
}
function int(v: TomlValue | undefined, fallback: number): number {
  return typeof v === 'number' ? Math.trunc(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : fallback
}
function table(v: TomlValue | undefined): TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : {}
}
function pathmaps(v: TomlValue | undefined): Pathmap[] {
  if (!Array.isArray(v)) return []
  return v.map((item) => table(item)).map((t) => ({ src: str(t.src, ''), dst: str(t.dst, '') }))
}
function bindmount(v: TomlValue | undefined): Bindmount {
  const t = table(v)
  return { readOnly: pathmaps(t['read-only']), readWrite: pathmaps(t['read-write']) }
}

export class ConfigNotFoundError extends Error {}

/**
 * config.LoadConfig: reads <dir>/<cluster>/kspawn.toml. Like viper, a missing
 * file is an error ("open <path>: no such file or directory"), but the
 * returned configuration is still filled from flags and defaults.
 */
export async function loadConfig(
  flags: Partial<Settings>,
): Promise<{ cfg: ClusterConfiguration; error?: Error; raw?: TomlTable }> {
  const located = { ...defaultSettings, ...flags }
  const file = configPath(located.dir, located['cluster-name'])
  let raw: TomlTable = {}
  let error: Error | undefined
  try {
    raw = parseToml(await readFile(file, 'utf8'))
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code === 'ENOENT') error = new ConfigNotFoundError(`open ${file}: no such file or directory`)
    else if (err.code) error = new Error(`open ${file}: ${err.message.replace(/^[A-Z]+: /, '').replace(/, open .*$/, '')}`)
    else error = new Error(`While parsing config: ${err.message}`)
    if (!(error instanceof ConfigNotFoundError)) return { cfg: fromSettings(located, {}), error }
  }
  // flags that were given > the file > defaults
  const merged: Settings = { ...defaultSettings }
  for (const key of Object.keys(defaultSettings) as (keyof Settings)[]) {
    if (key in flags) continue
    const v = raw[key]
    if (v === undefined) continue
    if (typeof defaultSettings[key] === 'boolean') (merged as unknown as Record<string, unknown>)[key] = bool(v, defaultSettings[key] as boolean)
    else if (typeof defaultSettings[key] === 'number') (merged as unknown as Record<string, unknown>)[key] = int(v, defaultSettings[key] as number)
    else (merged as unknown as Record<string, unknown>)[key] = str(v, defaultSettings[key] as string)
  }
  Object.assign(merged, flags)
  const result: { cfg: ClusterConfiguration; error?: Error; raw?: TomlTable } = { cfg: fromSettings(merged, raw), raw }
  if (error) result.error = error
  return result
}

function fromSettings(s: Settings, raw: TomlTable): ClusterConfiguration {
  const rc = table(raw['runtime-config'])
  return {
    kubeSpawnDir: s.dir,
    name: s['cluster-name'],
    containerRuntime: s['container-runtime'],
    kubernetesVersion: s['kubernetes-version'],
    image: s.image,
    nodes: s.nodes,
    imageGpgVerify: bool(raw['image-gpg-verify'], false),
    devCluster: s.dev,
    hyperkubeTag: s['hyperkube-tag'],
    runtimeConfiguration: {
      endpoint: str(rc.endpoint, ''),
      timeout: str(rc.timeout, ''),
      useLegacyCgroupDriver: bool(rc['use-legacy-cgroup-driver'], false),
      cgroupPerQos: bool(rc['cgroup-per-qos'], false),
      failSwapOn: bool(rc['fail-swap-on'], false),
    },
    bindmount: bindmount(raw.bindmount),
    token: str(raw.token, ''),
    tokenGroupsOption: str(raw['token-groups-option'], ''),
    machines: (Array.isArray(raw.machines) ? raw.machines : []).map((m) => {
      const t = table(m)
      return { running: bool(t.running, false), name: str(t.name, ''), ip: str(t.ip, ''), bindmount: bindmount(t.bindmount) }
    }),
  }
}

const autogenerated = 'autogenerated. do not edit!'
const bindmountComment = 'syntax: <dst in container> = <src on host>'

function bindmountTable(b: Bindmount): TomlTable {
  const toTables = (list: Pathmap[]): TomlValue => list.map((p) => ({ src: p.src, dst: p.dst }))
  return { 'read-only': toTables(b.readOnly), 'read-write': toTables(b.readWrite) }
}

/** config.WriteConfigToFile */
export async function writeConfig(cfg: ClusterConfiguration): Promise<void> {
  const doc: TomlTable = {
    dir: cfg.kubeSpawnDir,
    'cluster-name': cfg.name,
    'container-runtime': cfg.containerRuntime,
    'kubernetes-version': cfg.kubernetesVersion,
    image: cfg.image,
    nodes: cfg.nodes,
    'image-gpg-verify': cfg.imageGpgVerify,
    dev: cfg.devCluster,
    'hyperkube-tag': cfg.hyperkubeTag,
    'runtime-config': {
      endpoint: cfg.runtimeConfiguration.endpoint,
      timeout: cfg.runtimeConfiguration.timeout,
      'use-legacy-cgroup-driver': cfg.runtimeConfiguration.useLegacyCgroupDriver,
      'cgroup-per-qos': cfg.runtimeConfiguration.cgroupPerQos,
      'fail-swap-on': cfg.runtimeConfiguration.failSwapOn,
    },
    bindmount: bindmountTable(cfg.bindmount),
    token: cfg.token,
    'token-groups-option': cfg.tokenGroupsOption,
    machines: cfg.machines.map((m) => ({ running: m.running, name: m.name, ip: m.ip, bindmount: bindmountTable(m.bindmount) })),
  }
  const file = configPath(cfg.kubeSpawnDir, cfg.name)
  await mkdir(dirname(file), { recursive: true })
  await writeFile(
    file,
    stringifyToml(doc, {
      bindmount: bindmountComment,
      'machines.running': autogenerated,
      'machines.name': autogenerated,
      'machines.ip': autogenerated,
      'machines.bindmount': bindmountComment,
    }),
  )
}

export function configExists(dir: string, clusterName: string): boolean {
  return existsSync(configPath(dir, clusterName))
}
