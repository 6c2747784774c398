// What the end-to-end suites share: a kspawn.config.ts for the test world,
// and the real CLI run in a user's folder, from sources or as installed, to
// its end or as a process that a test signals while it runs.
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { stripVTControlCharacters } from 'node:util'
import type { RunRecord } from '../../engine/run/run-state.ts'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import { branches, HYPERKUBE, kubeSpawn, messages, must, sh, world, type Result } from '../world/harness.ts'
import { repoDir } from '../world/state.ts'

export interface ConfigOptions {
  checkout: string
  workdir: string
  /** One `name: { ... }` entry of `variants` per line. */
  variants: string[]
  /** The top-level smoke list, as TypeScript. */
  smoke: string
  /** The share repository, when the config has one. */
  share?: string
  /** The deployer's readySeconds, when not its default. */
  readySeconds?: number
  /** The build cache's registry and repository, when the config has one. */
  cache?: string
}

/** Writes a config that builds in `workdir` and spawns 2-node clusters in the world's kube-spawn folder. */
export async function writeConfig(file: string, options: ConfigOptions): Promise<string> {
  const lines = [
    `import { defineConfig } from 'kspawn'`,
    `import { admission } from 'kspawn/plugins/admission'`,
    `import { kubeSpawn } from 'kspawn/plugins/kube-spawn'`,
    `export default defineConfig({`,
    `  kubernetes: { checkout: ${JSON.stringify(options.checkout)} },`,
    `  workdir: ${JSON.stringify(options.workdir)},`,
    `  deployer: kubeSpawn({ nodes: 2, dir: ${JSON.stringify(world().KSPAWN_WORLD_KUBE_SPAWN_DIR)}${options.readySeconds === undefined ? '' : `, readySeconds: ${options.readySeconds}`} }),`,
    `  variants: {`,
    ...options.variants.map((line) => `    ${line.trim().replace(/,$/, '')},`),
    `  },`,
    `  smoke: ${options.smoke},`,
    ...(options.share ? [`  share: { repository: ${JSON.stringify(options.share)} },`] : []),
    ...(options.cache ? [`  cache: { registry: ${JSON.stringify(options.cache)} },`] : []),
    `})`,
    '',
  ]
  await writeFile(file, lines.join('\n'))
  return file
}

/** A cluster and image tag of their own for each variant of denyAttachProject. */
export interface DenyAttachNames {
  alpha: { cluster: string; tag: string }
  fix: { cluster: string; tag: string }
}

/**
 * A user's folder (under the system's temporary folder, named from `prefix`)
 * with a clone of upstream and a config of two variants on the fork: alpha,
 * the DenyAttach branch, and fix, its fix; the smoke test expects attach to
 * be denied with alpha's message.
 */
export async function denyAttachProject(prefix: string, names: DenyAttachNames): Promise<{ home: string; config: string }> {
  const home = await mkdtemp(join(tmpdir(), prefix))
  const checkout = join(home, 'go', 'src', 'k8s.io', 'kubernetes')
  await must(['git', 'clone', '--quiet', world().KSPAWN_WORLD_UPSTREAM, checkout])
  const fork = JSON.stringify(world().KSPAWN_WORLD_FORK)
  const variant = (name: keyof DenyAttachNames, branch: string) =>
    `${name}: { source: { remote: ${fork}, branch: ${JSON.stringify(branch)} }, tag: ${JSON.stringify(names[name].tag)}, cluster: ${JSON.stringify(names[name].cluster)} }`
  const config = await writeConfig(join(home, 'kspawn.config.ts'), {
    checkout,
    workdir: join(home, 'work'),
    variants: [variant('alpha', branches.denyattach), variant('fix', branches.denyattachfix)],
    smoke: `[admission.denies('attach', { message: ${JSON.stringify(messages.denyattach)} })]`,
  })
  return { home, config }
}

/** What runs of denyAttachProject may have left in the world: its clusters (machines, containers, folders) and images. */
export async function removeDenyAttachProject(names: DenyAttachNames): Promise<void> {
  for (const { cluster } of Object.values(names)) {
    await kubeSpawn(['stop', '-c', cluster])
    await kubeSpawn(['destroy', '-c', cluster])
    await sh(['docker', 'rm', '--force', ...[0, 1].map((index) => `kubespawn${cluster}${index}`)])
  }
  await sh(['docker', 'image', 'rm', ...Object.values(names).map(({ tag }) => `${HYPERKUBE}:${tag}`)])
}

/** A run's state.json. */
export async function stateOf(run: string): Promise<RunRecord> {
  return JSON.parse(await readFile(join(run, 'state.json'), 'utf8')) as RunRecord
}

/** The last line of a run's events.jsonl. */
export async function lastEvent(run: string): Promise<Record<string, unknown>> {
  const lines = (await readFile(join(run, 'events.jsonl'), 'utf8')).trimEnd().split('\n')
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>
}

// The config's folder has no node_modules: tsx is named by its own location.
const cliArgv = (args: string[]) => ['node', '--import', import.meta.resolve('tsx'), join(repoDir, 'bin', 'kspawn.ts'), ...args]

// Node warns that NO_COLOR loses to the FORCE_COLOR of the test runner's environment.
const withoutNodeWarning = (text: string) => text.replace(/^\(node:\d+\) Warning: [^\n]*\n\(Use `node --trace-warnings[^\n]*\n/, '')

/** The CLI from sources, as a user runs it in `cwd`: plain output, no colour. */
export function kspawn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return asUser(cliArgv(args), cwd, env)
}

/** The `kspawn` that PATH finds first (`env.PATH` when given), as a user types it after installing kspawn. */
export function installedKspawn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return asUser(['kspawn', ...args], cwd, env)
}

/**
 * Puts an executable `kspawn` that runs the CLI from sources in `folder`, for
 * commands kspawn prints (`kspawn down ...`) to be run as a user pastes them.
 */
export async function kspawnOnPath(folder: string): Promise<string> {
  await mkdir(folder, { recursive: true })
  const command = formatCommandLine(cliArgv([]))
  await writeFile(join(folder, 'kspawn'), `#!/bin/sh\n# kspawn from sources, for tests that paste what kspawn printed.\nexec ${command} "$@"\n`)
  await chmod(join(folder, 'kspawn'), 0o755)
  return folder
}

/** A command line kspawn printed, run by bash in `cwd` as if pasted, with `bin` (see kspawnOnPath) first on PATH. */
export function paste(line: string, cwd: string, bin: string): Promise<Result> {
  return asUser(['bash', '-c', line], cwd, { PATH: `${bin}:${world().PATH}` })
}

async function asUser(argv: string[], cwd: string, env: Record<string, string>): Promise<Result> {
  const result = await sh(argv, { cwd, env: { CI: 'true', NO_COLOR: '1', ...env }, timeoutMs: 600_000 })
  return { ...result, stderr: withoutNodeWarning(result.stderr) }
}

/**
 * The lines a run's summary gives one variant: its result, each smoke-test
 * expectation with what was seen (what the cluster answered, not the
 * config's expectation), and its cluster. Fails when the variant has none.
 */
export function summaryOf(output: string, variant: string): string {
  const lines = output.split('\n')
  const start = lines.findIndex((line) => new RegExp(`^  [✔✖■] ${variant} (passed|failed|stopped|did not finish)`).test(line))
  if (start === -1) throw new Error(`the summary has no line for variant ${variant}:\n${output.slice(-3000)}`)
  const end = lines.findIndex((line, index) => index > start && !line.startsWith('      '))
  return lines.slice(start, end === -1 ? undefined : end).join('\n')
}

/** The Forbidden line kubectl attach got from the API server, as the summary shows it under "seen:". */
export function deniedWith(message: string): RegExp {
  const escaped = message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^ +Error from server \\(Forbidden\\): pods "kspawn-smoke-[0-9a-f]+" is forbidden: ${escaped}$`, 'm')
}

/** A kspawn process that runs while the test acts on it: the one process a terminal's Ctrl-C reaches (its commands run in groups of their own). */
export interface Running {
  pid: number
  /** stdout and stderr so far, interleaved as they came. */
  output(): string
  /** Resolves with its exit status (null when a signal ended it) once it ended. */
  exited: Promise<number | null>
  /** Resolves once its output holds `text`; rejects if it ends first. */
  prints(text: string): Promise<void>
}

export function startKspawn(cwd: string, args: string[], env: Record<string, string> = {}): Running {
  const [command = 'node', ...rest] = cliArgv(args)
  const child = spawn(command, rest, { cwd, env: { ...process.env, ...world(), CI: 'true', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return { pid: child.pid ?? 0, ...watchOutput(child, withoutNodeWarning) }
}

/** kspawn on a terminal of its own, as a user runs it: what it prints, and the keys typed on the terminal's keyboard. */
export interface OnTerminal extends Omit<Running, 'pid'> {
  /**
   * Types on the terminal: '\x03' is Ctrl-C, which the terminal's line
   * discipline turns into SIGINT for its foreground process group (kspawn,
   * and whatever it started that did not leave the group).
   */
  type(keys: string): void
  /** The terminal's session, whose leader is kspawn (its pid): every process started on the terminal is in it unless it left. */
  session(): Promise<number>
  /** Closes the terminal, if kspawn still runs on it (a test that failed half-way), and resolves once it is closed. */
  close(): Promise<void>
}

/**
 * The CLI from sources on a pseudo-terminal, as a user types it in a shell:
 * kspawn leads the terminal's session and foreground process group, stdout
 * and stderr are the terminal (the animated list, in colour), CI is unset.
 * output() is the text the terminal received, without its escape sequences
 * and with its CRLF line ends as LF.
 */
export function startKspawnOnTerminal(cwd: string, args: string[], env: Record<string, string> = {}): OnTerminal {
  // script (util-linux, in every Debian) runs `$SHELL -c <command>` on a new pseudo-terminal and copies what it
  // prints to its stdout, and what it reads on its stdin to the terminal as typed keys. Fed from a pipe it gives
  // the terminal no size, and the animated list would draw nothing: stty gives it one of a common window.
  const command = `stty rows 40 cols 120 && exec ${cliArgv(args).map(shellWord).join(' ')}`
  // A user's terminal: not CI, colour by default (undefined drops a variable of the test runner's environment).
  const terminal = { TERM: 'xterm-256color', SHELL: '/bin/sh', CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined }
  const child = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
    cwd,
    env: { ...process.env, ...world(), ...terminal, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const screenText = (raw: string) => stripVTControlCharacters(raw).replace(/\r\n/g, '\n')
  const watched = watchOutput(child, screenText)
  return {
    ...watched,
    type: (keys) => child.stdin.write(keys),
    async session() {
      // script's one child, the shell that exec'd kspawn, leads the session script made for the terminal.
      for (let i = 0; i < 200; i++) {
        const children = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '')
        const leader = Number(children.trim().split(' ')[0])
        if (leader > 0) return leader
        await sleep(50)
      }
      throw new Error(`script (pid ${child.pid}) started nothing on its terminal`)
    },
    async close() {
      // script ends what runs on its terminal when it is terminated.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await watched.exited
    },
  }
}

/** One word of a POSIX sh command line, quoted: the shell gives it to the program as it is. */
function shellWord(word: string): string {
  if (word.includes('\0')) throw new Error(`an argument cannot hold a NUL character: ${JSON.stringify(word)}`)
  return `'${word.replace(/'/g, `'\\''`)}'`
}

/** What a started process printed (stdout and stderr as they came, through `text`), and its end. */
function watchOutput(child: ChildProcessByStdio<Writable | null, Readable, Readable>, text: (raw: string) => string): Omit<Running, 'pid'> {
  let raw = ''
  const waiting = new Set<() => void>()
  const append = (chunk: Buffer) => {
    raw += chunk.toString()
    for (const check of waiting) check()
  }
  child.stdout.on('data', append)
  child.stderr.on('data', append)
  const exited = once(child, 'close').then(([code]) => code as number | null)
  return {
    output: () => text(raw),
    exited,
    prints: (expected) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!text(raw).includes(expected)) return
          waiting.delete(check)
          resolve()
        }
        waiting.add(check)
        check()
        void exited.then(() => {
          if (!text(raw).includes(expected)) reject(new Error(`kspawn ended without printing ${JSON.stringify(expected)}:\n${text(raw).slice(-4000)}`))
        })
      }),
  }
}

/** The run folders under `<workdir>/runs`, oldest first. */
export async function runFolders(workdir: string): Promise<string[]> {
  return (await readdir(join(workdir, 'runs')).catch(() => [] as string[])).sort().map((name) => join(workdir, 'runs', name))
}

/** The first run folder that is not one of `before`, once kspawn made it. */
export async function newRun(workdir: string, before: string[]): Promise<string> {
  for (let i = 0; i < 12_000; i++) {
    const run = (await runFolders(workdir)).find((folder) => !before.includes(folder))
    if (run !== undefined) return run
    await sleep(50)
  }
  throw new Error(`no new run folder appeared in ${join(workdir, 'runs')}`)
}

/**
 * Resolves once the file holds `text`: a line a command wrote in its log.
 * The bound (10 minutes) only keeps a broken run from hanging the suite.
 */
export async function fileHolds(file: string, text: string): Promise<void> {
  for (let i = 0; i < 12_000; i++) {
    if ((await readFile(file, 'utf8').catch(() => '')).includes(text)) return
    await sleep(50)
  }
  throw new Error(`${file} never held ${JSON.stringify(text)}`)
}

/** Command lines of the live processes whose command line holds `text`. */
export async function processesWith(text: string): Promise<string[]> {
  const found: string[] = []
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const status = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    if (status === '' || status.slice(status.lastIndexOf(')') + 2).startsWith('Z')) continue
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ')
    if (argv.includes(text) && Number(pid) !== process.pid) found.push(argv.trim())
  }
  return found
}

/** What the world has of a kspawn cluster: running machines, machine containers, kube-spawn's folder, the API server, kspawn's record. */
export async function clusterLeft(cluster: string, workdir: string) {
  const kubeSpawnDir = world().KSPAWN_WORLD_KUBE_SPAWN_DIR
  const listed = (await must(['machinectl', 'list', '--no-legend'])).stdout.split('\n')
  const containers = await must(['docker', 'ps', '-a', '--format', '{{.Names}}', '--filter', `label=kube-spawn.world/cluster=${cluster}`])
  return {
    machines: listed.filter((line) => line.startsWith(`kubespawn${cluster}`)).map((line) => line.split(/\s+/)[0] ?? ''),
    containers: containers.stdout.split('\n').filter(Boolean).sort(),
    folder: existsSync(join(kubeSpawnDir, cluster)),
    apiServer: await processesWith(join(kubeSpawnDir, cluster, 'apiserver-spec.json')),
    record: existsSync(join(workdir, 'clusters', `${cluster}.json`)),
  }
}

/** clusterLeft() of a cluster that is all gone. */
export const nothingLeft = { machines: [], containers: [], folder: false, apiServer: [], record: false }
