// machinectl (systemd 233, as on the article's host) for the test world,
// where systemd is not PID 1: the machines it knows are kube-spawn's, kept as
// containers on the world's Docker engine. Verbs: the ones kube-spawn v0.2
// itself runs (list, status, show-image, clone, shell, poweroff, terminate,
// remove); anything else is an unknown operation, as machinectl says it.
import { docker } from './run.ts'
import * as machines from './machines.ts'

const VERSION = `systemd 233
+PAM +AUDIT +SELINUX +IMA -APPARMOR +SMACK +SYSVINIT +UTMP +LIBCRYPTSETUP +GCRYPT +GNUTLS +ACL +XZ +LZ4 +SECCOMP +BLKID +ELFUTILS +KMOD +IDN default-hierarchy=hybrid`

const HELP = `machinectl [OPTIONS...] {COMMAND} ...

Send control commands to or query the virtual machine and container
registration manager.

  -h --help                   Show this help
     --version                Show package version
     --no-pager               Do not pipe output into a pager
     --no-legend              Do not show the headers and footers
  -a --all                    Show all properties, including empty ones
  -l --full                   Do not ellipsize output
  -q --quiet                  Suppress output

Machine Commands:
  list                        List running VMs and containers
  status NAME...              Show VM/container details
  shell [[USER@]NAME [COMMAND...]]
                              Open an interactive shell session
  poweroff NAME...            Power off one or more containers
  terminate NAME...           Terminate one or more VMs/containers

Image Commands:
  show-image NAME...          Show properties of image
  clone NAME NAME             Clone an image
  remove NAME...              Remove an image
`

interface Options {
  legend: boolean
  quiet: boolean
}

function fail(message: string): never {
  process.stderr.write(message + '\n')
  process.exit(1)
}

function parseArgs(argv: string[]): { options: Options; verb: string | undefined; args: string[] } {
  const options: Options = { legend: true, quiet: false }
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    // Options end at the shell's command: `machinectl shell NAME cmd --flag` passes --flag on.
    if (rest[0] === 'shell' && rest.length >= 2) {
      rest.push(...argv.slice(i))
      break
    }
    if (a === '--') {
      rest.push(...argv.slice(i + 1))
      break
    }
    if (a.startsWith('--')) {
      const name = a.split('=')[0]
      switch (name) {
        case '--help':
          process.stdout.write(HELP)
          process.exit(0)
        case '--version':
          process.stdout.write(VERSION + '\n')
          process.exit(0)
        case '--no-legend':
          options.legend = false
          break
        case '--no-pager':
        case '--all':
        case '--full':
        case '--no-ask-password':
          break
        case '--quiet':
          options.quiet = true
          break
        default:
          fail(`machinectl: unrecognized option '${a}'`)
      }
      continue
    }
    if (a.startsWith('-') && a.length > 1) {
      for (const c of a.slice(1)) {
        if (c === 'h') {
          process.stdout.write(HELP)
          process.exit(0)
        } else if (c === 'q') options.quiet = true
        else if (c === 'a' || c === 'l') continue
        else fail(`machinectl: invalid option -- '${c}'`)
      }
      continue
    }
    rest.push(a)
  }
  return { options, verb: rest[0], args: rest.slice(1) }
}

async function list(options: Options): Promise<void> {
  const running = (await machines.listMachines()).filter((m) => m.running)
  const rows = running.map((m) => [m.name, machines.MACHINE_CLASS, machines.MACHINE_SERVICE, machines.MACHINE_OS, machines.MACHINE_VERSION, m.address ? `${m.address}...` : '-'])
  const header = ['MACHINE', 'CLASS', 'SERVICE', 'OS', 'VERSION', 'ADDRESSES']
  const widths = header.slice(0, 5).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => cells.slice(0, 5).map((c, i) => c.padEnd(widths[i]!)).join(' ') + ' ' + cells[5]
  const out: string[] = []
  if (options.legend && rows.length > 0) out.push(line(header))
  for (const r of rows) out.push(line(r))
  if (options.legend) {
    if (rows.length > 0) out.push('', `${rows.length} machines listed.`)
    else out.push('No machines.')
  }
  if (out.length > 0) process.stdout.write(out.join('\n') + '\n')
}

function since(iso: string): string {
  const started = new Date(iso)
  const seconds = Math.max(0, Math.round((Date.now() - started.getTime()) / 1000))
  const ago = seconds < 60 ? `${seconds}s ago` : seconds < 3600 ? `${Math.floor(seconds / 60)}min ${seconds % 60}s ago` : `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}min ago`
  const pad = (n: number): string => String(n).padStart(2, '0')
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][started.getUTCDay()]
  const date = `${started.getUTCFullYear()}-${pad(started.getUTCMonth() + 1)}-${pad(started.getUTCDate())}`
  return `${day} ${date} ${pad(started.getUTCHours())}:${pad(started.getUTCMinutes())}:${pad(started.getUTCSeconds())} UTC; ${ago}`
}

async function status(names: string[]): Promise<void> {
  if (names.length === 0) fail('Too few arguments.')
  const all = await machines.listMachines()
  const blocks: string[] = []
  for (const name of names) {
    const m = all.find((x) => x.name === name && x.running)
    if (!m) fail(`Could not get path to machine: No machine '${name}' known`)
    const r = await docker(['container', 'inspect', '--format', '{{.Id}}\t{{.State.StartedAt}}\t{{.State.Pid}}', name])
    const [id = '', startedAt = '', pid = ''] = r.stdout.trim().split('\t')
    blocks.push(
      [
        `${name}(${id.slice(0, 32)})`,
        `           Since: ${since(startedAt)}`,
        `          Leader: ${pid} (docker-init)`,
        `         Service: ${machines.MACHINE_SERVICE}; class ${machines.MACHINE_CLASS}`,
        `            Root: /var/lib/machines/${name}`,
        `         Address: ${m.address}`,
        `              OS: Container Linux by CoreOS ${machines.MACHINE_VERSION} (Ladybug)`,
        `            Unit: machine-${name}.scope`,
        `                  └─payload`,
        `                    └─${pid} /usr/bin/kubelet`,
      ].join('\n'),
    )
  }
  process.stdout.write(blocks.join('\n\n') + '\n')
}

async function showImage(names: string[]): Promise<void> {
  const all = await machines.listMachines()
  const targets = names.length > 0 ? names : []
  if (targets.length === 0) fail('Too few arguments.')
  const blocks: string[] = []
  for (const name of targets) {
    const m = all.find((x) => x.name === name)
    if (!m) fail(`Could not get path to image: No image '${name}' known`)
    blocks.push([`Name=${name}`, `Path=/var/lib/machines/${name}.raw`, 'Type=raw', 'ReadOnly=no'].join('\n'))
  }
  process.stdout.write(blocks.join('\n\n') + '\n')
}

async function each(names: string[], op: (name: string) => Promise<void>): Promise<void> {
  if (names.length === 0) fail('Too few arguments.')
  for (const name of names) {
    try {
      await op(name)
    } catch (e) {
      if (e instanceof machines.MachinectlError) fail(e.message)
      throw e
    }
  }
}

async function shell(args: string[], options: Options): Promise<void> {
  const target = args[0]
  if (!target || target === '.host' || target.endsWith('@.host')) fail('Failed to get shell PTY: the test world has no host shell to offer')
  const name = target.includes('@') ? target.slice(target.indexOf('@') + 1) : target
  const command = args.length > 1 ? args.slice(1) : ['/bin/sh']
  if (process.geteuid?.() !== 0) fail('Failed to get shell PTY: Interactive authentication required.')
  if (!(await machines.isRunning(name))) fail(`Failed to get shell PTY: No machine '${name}' known`)
  if (!options.quiet) process.stderr.write(`Connected to machine ${name}. Press ^] three times within 1s to exit session.\n`)
  const { spawn } = await import('node:child_process')
  const tty = process.stdin.isTTY === true
  const child = spawn('docker', ['exec', '-i', ...(tty ? ['-t'] : []), name, ...command], { stdio: 'inherit' })
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  if (!options.quiet) process.stderr.write(`Connection to machine ${name} terminated.\n`)
  process.exit(code)
}

async function main(argv: string[]): Promise<void> {
  const { options, verb, args } = parseArgs(argv)
  try {
    switch (verb ?? 'list') {
      case 'list':
        if (args.length > 0) fail('Too many arguments.')
        return await list(options)
      case 'status':
        return await status(args)
      case 'show-image':
        return await showImage(args)
      case 'poweroff':
        return await each(args, machines.poweroff)
      case 'terminate':
        return await each(args, machines.terminate)
      case 'remove':
        return await each(args, machines.removeImage)
      case 'clone':
        if (args.length < 2) fail('Too few arguments.')
        if (args.length > 2) fail('Too many arguments.')
        // The world's machined has no images of its own: kube-spawn clones through its own code.
        return fail(`Could not clone image: No image '${args[0]}' known`)
      case 'shell':
        return await shell(args, options)
      default:
        fail(`Unknown operation ${verb}.`)
    }
  } catch (e) {
    if (e instanceof machines.MachinectlError) fail(e.message)
    throw e
  }
}

await main(process.argv.slice(2))
