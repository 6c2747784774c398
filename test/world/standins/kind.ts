// kind v0.32.0 for the test world: the commands a deployer runs (version,
// build node-image, create/delete cluster, get clusters/nodes/kubeconfig),
// with kind's flags, defaults, messages (kind's logger: stderr; program
// output: stdout), labels, node names and exit codes (0, or 1 for every
// error, printed "ERROR: <error>" and, after a failed command, its output).
// Nodes are containers of the world's Docker engine made from a node image
// the stand-in's own build node-image assembled from a fixture tree; the
// control plane is the world's API server emulator. See "The kind stand-in"
// in test/world/README.md for what differs.
import { help, parse, UnknownCommandError, UsageError, type CommandSpec, type FlagSpec, type Parsed, type ProgramSpec } from './cli.ts'
import { buildNodeImage, DEFAULT_BASE_IMAGE, DEFAULT_IMAGE } from './kind/build.ts'
import { createCluster, deleteCluster, getKubeconfig } from './kind/cluster.ts'
import { DEFAULT_CLUSTER_NAME } from './kind/config.ts'
import { goQuoteList, runErrorOf, wrap } from './kind/errors.ts'
import { Logger } from './kind/log.ts'
import { listClusters, listNodes } from './kind/nodes.ts'

const VERSION = '0.32.0'
const GO_VERSION = 'go1.26.3'

const persistentFlags: FlagSpec[] = [
  { name: 'verbosity', short: 'v', kind: 'int', default: 0, usage: 'info log verbosity, higher value produces more output' },
  { name: 'quiet', short: 'q', kind: 'bool', default: false, usage: 'silence all stderr output' },
]

const nameFlag = (usage: string, byDefault: string): FlagSpec => ({ name: 'name', short: 'n', kind: 'string', default: byDefault, usage })
const kubeconfigFlag: FlagSpec = { name: 'kubeconfig', kind: 'string', default: '', usage: 'sets kubeconfig path instead of $KUBECONFIG or $HOME/.kube/config' }

interface Group {
  short: string
  long: string
  commands: CommandSpec[]
}

const groups: Record<string, Group> = {
  build: {
    short: 'Build one of [node-image]',
    long: 'Build one of [node-image]',
    commands: [
      {
        name: 'node-image',
        short: 'Build the node image',
        long: 'Build the node image which contains Kubernetes build artifacts and other kind requirements.\nBy default, this will build from a local Kubernetes source directory (auto-detected if omitted).',
        flags: [
          { name: 'type', kind: 'string', default: '', usage: "optionally specify one of 'url', 'file', 'release', 'ci' or 'source' as the type of build" },
          { name: 'image', kind: 'string', default: DEFAULT_IMAGE, usage: 'name:tag of the resulting image to be built' },
          { name: 'base-image', kind: 'string', default: DEFAULT_BASE_IMAGE, usage: 'name:tag of the base image to use for the build' },
          { name: 'arch', kind: 'string', default: '', usage: 'architecture to build for, defaults to the host architecture' },
        ],
      },
    ],
  },
  create: {
    short: 'Creates one of [cluster]',
    long: 'Creates one of local Kubernetes cluster (cluster)',
    commands: [
      {
        name: 'cluster',
        short: 'Creates a local Kubernetes cluster',
        long: "Creates a local Kubernetes cluster using Docker container 'nodes'",
        flags: [
          nameFlag('cluster name, overrides KIND_CLUSTER_NAME, config (default kind)', ''),
          { name: 'config', kind: 'string', default: '', usage: 'path to a kind config file' },
          { name: 'image', kind: 'string', default: '', usage: 'node docker image to use for booting the cluster' },
          { name: 'retain', kind: 'bool', default: false, usage: 'retain nodes for debugging when cluster creation fails' },
          { name: 'wait', kind: 'string', default: '0s', usage: 'wait for control plane node to be ready (default 0s)' },
          kubeconfigFlag,
        ],
      },
    ],
  },
  delete: {
    short: 'Deletes one of [cluster]',
    long: 'Deletes one of [cluster]',
    commands: [
      {
        name: 'cluster',
        short: 'Deletes a cluster',
        long: 'Deletes a Kind cluster from the system.\n\nThis is an idempotent operation, meaning it may be called multiple times without\nfailing (like "rm -f"). If the cluster resources exist they will be deleted, and\nif the cluster is already gone it will just return success.\n\nErrors will only occur if the cluster resources exist and are not able to be deleted.',
        flags: [nameFlag('the cluster name', DEFAULT_CLUSTER_NAME), kubeconfigFlag],
      },
      {
        name: 'clusters',
        short: 'Deletes one or more clusters',
        flags: [{ name: 'all', short: 'A', kind: 'bool', default: false, usage: 'delete all clusters' }, kubeconfigFlag],
      },
    ],
  },
  get: {
    short: 'Gets one of [clusters, nodes, kubeconfig]',
    long: 'Gets one of [clusters, nodes, kubeconfig]',
    commands: [
      { name: 'clusters', short: 'Lists existing kind clusters by their name', flags: [] },
      {
        name: 'nodes',
        short: 'Lists existing kind nodes by their name',
        flags: [
          nameFlag('the cluster context name', DEFAULT_CLUSTER_NAME),
          { name: 'all-clusters', short: 'A', kind: 'bool', default: false, usage: 'If present, list all the available nodes across all cluster contexts. Current context is ignored even if specified with --name.' },
        ],
      },
      {
        name: 'kubeconfig',
        short: 'Prints cluster kubeconfig',
        flags: [nameFlag('the cluster context name', DEFAULT_CLUSTER_NAME), { name: 'internal', kind: 'bool', default: false, usage: 'use internal address instead of external' }],
      },
    ],
  },
}

const versionCommand: CommandSpec = { name: 'version', short: 'Prints the kind CLI version', flags: [] }

const root: ProgramSpec = {
  name: 'kind',
  long: "kind creates and manages local Kubernetes clusters using Docker container 'nodes'",
  persistentFlags,
  rootFlags: [{ name: 'version', kind: 'bool', default: false, usage: 'version for kind' }],
  commands: [...Object.entries(groups).map(([name, g]) => ({ name, short: g.short, long: g.long, flags: [] })), versionCommand],
}

/** A usage error of kind's: "ERROR: <message>", exit 1 (cobra's usage is silenced). */
class KindUsageError extends Error {}

/** checkQuiet: -q/--quiet anywhere, unknown flags ignored. */
function quietIn(argv: string[]): boolean {
  let quiet = false
  for (const arg of argv) {
    if (arg === '--') break
    if (arg === '--quiet' || arg === '--quiet=true' || arg === '-q') quiet = true
    if (arg === '--quiet=false') quiet = false
    if (/^-[a-zA-Z]+$/.test(arg) && arg.includes('q')) quiet = true
  }
  return quiet
}

/** The first argument that is not a flag (nor the value of -v), and the others. */
function splitWord(argv: string[]): { word: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return { word: undefined, rest: argv }
    if (arg === '-v' || arg === '--verbosity') {
      i++
      continue
    }
    if (arg.startsWith('-') && arg !== '-') continue
    return { word: arg, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] }
  }
  return { word: undefined, rest: argv }
}

function parseOrThrow(spec: ProgramSpec, argv: string[]): Parsed {
  try {
    return parse(spec, argv)
  } catch (error) {
    if (error instanceof UsageError || error instanceof UnknownCommandError) throw new KindUsageError(error.message)
    throw error
  }
}

/** time.ParseDuration, as pflag's DurationVar reports its errors. */
export function parseGoDuration(flag: string, text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const invalid = (why: string) => new KindUsageError(`invalid argument ${JSON.stringify(text)} for "--${flag}" flag: time: ${why}`)
  let s = text
  let sign = 1
  if (s.startsWith('-') || s.startsWith('+')) {
    sign = s.startsWith('-') ? -1 : 1
    s = s.slice(1)
  }
  if (s === '0') return 0
  if (s === '') throw invalid(`invalid duration ${JSON.stringify(text)}`)
  let total = 0
  while (s !== '') {
    const number = /^(\d*)(\.\d*)?/.exec(s)!
    if (number[0] === '' || number[0] === '.') throw invalid(`invalid duration ${JSON.stringify(text)}`)
    s = s.slice(number[0].length)
    const unit = /^[^\d.]*/.exec(s)![0]
    if (unit === '') throw invalid(`missing unit in duration ${JSON.stringify(text)}`)
    const scale = units[unit]
    if (scale === undefined) throw invalid(`unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`)
    total += Number(number[0]) * scale
    s = s.slice(unit.length)
  }
  return sign * total
}

/** --name if given, else KIND_CLUSTER_NAME, else the flag's default (cli.OverrideDefaultName). */
function clusterName(parsed: Parsed): string {
  if (parsed.changed.has('name')) return String(parsed.values.name)
  return process.env.KIND_CLUSTER_NAME || String(parsed.values.name)
}

function noArgs(parsed: Parsed, path: string): void {
  if (parsed.args.length > 0) throw new KindUsageError(`unknown command ${JSON.stringify(parsed.args[0])} for ${JSON.stringify(path)}`)
}

async function runGroup(logger: Logger, group: string, argv: string[]): Promise<void> {
  const spec: ProgramSpec = { name: `kind ${group}`, long: groups[group]!.long, persistentFlags, rootFlags: [], commands: groups[group]!.commands }
  const { word } = splitWord(argv)
  if (word === undefined || !spec.commands.some((c) => c.name === word)) {
    // A parent command without a (known) subcommand prints its help, then fails.
    process.stdout.write(help(spec, null))
    if (argv.includes('-h') || argv.includes('--help')) return
    throw new KindUsageError('Subcommand is required')
  }
  const parsed = parseOrThrow(spec, argv)
  const command = parsed.command!
  if (parsed.help) {
    process.stdout.write(help(spec, command))
    return
  }
  const path = `kind ${group} ${command.name}`
  const v = parsed.values
  switch (`${group} ${command.name}`) {
    case 'build node-image': {
      if (parsed.args.length > 1) throw new KindUsageError(`accepts at most 1 arg(s), received ${parsed.args.length}`)
      try {
        await buildNodeImage(logger, {
          image: String(v.image),
          baseImage: String(v['base-image']),
          kubeParam: parsed.args[0] ?? '',
          arch: String(v.arch) || 'amd64',
          buildType: String(v.type),
        })
      } catch (error) {
        throw wrap(error, 'error building node image')
      }
      return
    }
    case 'create cluster': {
      noArgs(parsed, path)
      const waitMs = parseGoDuration('wait', String(v.wait))
      await createCluster(logger, {
        name: parsed.changed.has('name') ? String(v.name) : (process.env.KIND_CLUSTER_NAME ?? ''),
        config: String(v.config),
        image: String(v.image),
        retain: v.retain === true,
        waitMs: Math.max(0, waitMs),
        kubeconfig: String(v.kubeconfig),
      })
      return
    }
    case 'delete cluster': {
      noArgs(parsed, path)
      const name = clusterName(parsed)
      logger.info(`Deleting cluster "${name}" ...`)
      try {
        await deleteCluster(logger, name, String(v.kubeconfig))
      } catch (error) {
        throw wrap(error, `failed to delete cluster "${name}"`)
      }
      return
    }
    case 'delete clusters': {
      const names = v.all === true ? await listClusters() : parsed.args
      if (names.length === 0 && v.all !== true) throw new Error('no cluster names provided')
      const deleted: string[] = []
      for (const name of names) {
        try {
          await deleteCluster(logger, name, String(v.kubeconfig))
          deleted.push(name)
        } catch (error) {
          logger.info(`${(error as Error).message}`)
        }
      }
      logger.info(`Deleted clusters: ${goQuoteList(deleted)}`)
      return
    }
    case 'get clusters': {
      noArgs(parsed, path)
      const clusters = await listClusters()
      if (clusters.length === 0) logger.info('No kind clusters found.')
      for (const cluster of clusters) process.stdout.write(`${cluster}\n`)
      return
    }
    case 'get nodes': {
      noArgs(parsed, path)
      let nodes: string[]
      if (v['all-clusters'] === true) {
        nodes = []
        for (const cluster of await listClusters()) nodes.push(...(await listNodes(cluster)))
        if (nodes.length === 0) return logger.info('No kind nodes for any cluster.')
      } else {
        const name = clusterName(parsed)
        nodes = await listNodes(name)
        if (nodes.length === 0) return logger.info(`No kind nodes found for cluster "${name}".`)
      }
      for (const node of nodes) process.stdout.write(`${node}\n`)
      return
    }
    case 'get kubeconfig': {
      noArgs(parsed, path)
      process.stdout.write(`${await getKubeconfig(clusterName(parsed), v.internal === true)}\n`)
      return
    }
  }
}

async function main(argv: string[], logger: Logger): Promise<void> {
  const { word, rest } = splitWord(argv)
  if (word === undefined) {
    const parsed = parseOrThrow(root, argv)
    if (parsed.values.version === true && !parsed.help) {
      process.stdout.write(`kind version ${VERSION}\n`)
      return
    }
    process.stdout.write(help(root, null))
    return
  }
  if (word === 'version') {
    const parsed = parseOrThrow({ ...root, name: 'kind version', rootFlags: [] }, rest)
    if (parsed.help) {
      process.stdout.write(help(root, versionCommand))
      return
    }
    noArgs(parsed, 'kind version')
    process.stdout.write(parsed.values.quiet === true ? `${VERSION}\n` : `kind v${VERSION} ${GO_VERSION} linux/amd64\n`)
    return
  }
  if (!(word in groups)) throw new KindUsageError(`unknown command ${JSON.stringify(word)} for "kind"`)
  await runGroup(logger, word, rest)
}

const argv = process.argv.slice(2)
const quiet = quietIn(argv)
const verbosity = Number(/(?:^|\s)(?:-v|--verbosity)[= ](\d+)/.exec(argv.join(' '))?.[1] ?? '0')
const logger = new Logger(quiet, verbosity)
try {
  await main(argv, logger)
} catch (error) {
  // logError: the error, then the output of the command that failed, if one did.
  logger.info(`ERROR: ${(error as Error).message}`)
  const failed = runErrorOf(error)
  if (failed) logger.info(`\nCommand Output: ${failed.output}`)
  process.exitCode = 1
}
