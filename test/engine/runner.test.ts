import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { CommandError } from '../../engine/errors.ts'
import type { KspawnEvent } from '../../engine/run/events.ts'
import { rejection, setup } from './runner-helpers.ts'

const build = { id: 'build', variant: 'denyattach' }

test('a command is logged with its command line, output and exit code, and its events come in order', async () => {
  const { dir, runner, events, cleanup } = await setup()
  try {
    const result = await runner.run({ argv: ['sh', '-c', 'echo compiling; echo warning: unused >&2'], cwd: dir }, build)

    const logFile = path.join(dir, 'run', 'denyattach', 'build.log')
    assert.is(result.logFile, logFile)
    assert.is(result.exitCode, 0)
    const log = (await readFile(logFile, 'utf8')).split('\n')
    assert.is(log[0], `$ sh -c 'echo compiling; echo warning: unused >&2'`)
    assert.is(log[1], `# cwd: ${dir}`)
    assert.equal(log.slice(2, 4), ['compiling', 'warning: unused'])
    assert.match(log[4] ?? '', /^# exited with code 0 \(\d+ms\)$/)
    assert.equal(result.tail, ['compiling', 'warning: unused'])

    assert.equal(
      events.map((event) => event.kind),
      ['cmd', 'output', 'output', 'end'],
    )
    assert.equal(events[0], {
      kind: 'cmd',
      step: 'build',
      variant: 'denyattach',
      commandLine: `sh -c 'echo compiling; echo warning: unused >&2'`,
      cwd: dir,
      dryRun: false,
    })
    // Both streams went straight into the log file, so the lines keep their order but not their stream.
    assert.equal(events.slice(1, 3), [
      { kind: 'output', step: 'build', variant: 'denyattach', line: 'compiling' },
      { kind: 'output', step: 'build', variant: 'denyattach', line: 'warning: unused' },
    ])
    assert.equal({ ...events[3], durationMs: 0 }, {
      kind: 'end',
      step: 'build',
      variant: 'denyattach',
      commandLine: `sh -c 'echo compiling; echo warning: unused >&2'`,
      exitCode: 0,
      signal: null,
      durationMs: 0,
      logFile,
    })
  } finally {
    await cleanup()
  }
})

test('commands of one step append to the same log file', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    await runner.run({ argv: ['echo', 'first'] }, { id: 'fetch' })
    await runner.run({ argv: ['echo', 'second'] }, { id: 'fetch' })
    const log = await readFile(path.join(dir, 'run', 'fetch.log'), 'utf8')
    assert.match(log, /^\$ echo first\n# cwd: .*\nfirst\n# exited with code 0 \(\d+ms\)\n\$ echo second\n# cwd: .*\nsecond\n# exited with code 0 \(\d+ms\)\n$/)
  } finally {
    await cleanup()
  }
})

test('each argv element reaches the program unchanged, and is shown shell-quoted', async () => {
  const { runner, events, cleanup } = await setup()
  try {
    const args = ['a b', "it's", '$(id)', '; touch pwned', '`id`', '*', 'line1\nline2', '', '--flag=x']
    const result = await runner.run({ argv: ['printf', '[%s]\\n', ...args], capture: true }, build)
    assert.is(result.stdout, args.map((arg) => `[${arg}]\n`).join(''))
    const shown = `printf '[%s]\\n' 'a b' 'it'\\''s' '$(id)' '; touch pwned' '\`id\`' '*' $'line1\\nline2' '' --flag=x`
    assert.is(result.commandLine, shown)
    assert.is(events[0]?.kind === 'cmd' && events[0].commandLine, shown)
  } finally {
    await cleanup()
  }
})

test('a failed command throws a CommandError that names the step, command, exit code, last lines and log', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    const error = await rejection(
      runner.run({ argv: ['sh', '-c', 'echo step one; echo "make: *** [all] Error 2" >&2; exit 2'] }, build),
    )
    assert.instance(error, CommandError)
    const logFile = path.join(dir, 'run', 'denyattach', 'build.log')
    const lines = error.message.split('\n')
    assert.is(lines[0], `build (denyattach) failed: sh -c 'echo step one; echo "make: *** [all] Error 2" >&2; exit 2' exited with code 2`)
    assert.is(lines[1], '  last lines:')
    assert.equal(lines.slice(2, 4).sort(), ['    make: *** [all] Error 2', '    step one'])
    assert.is(lines[4], `  full log: ${logFile}`)
    assert.is((error as CommandError).exitCode, 1)
    assert.is((error as CommandError).failure.exitCode, 2)
    assert.match(await readFile(logFile, 'utf8'), /# exited with code 2 \(\d+ms\)\n$/)
  } finally {
    await cleanup()
  }
})

test('exit codes listed in okExitCodes count as success', async () => {
  const { runner, cleanup } = await setup()
  try {
    const result = await runner.run({ argv: ['sh', '-c', 'exit 1'], okExitCodes: [0, 1] }, build)
    assert.is(result.exitCode, 1)
  } finally {
    await cleanup()
  }
})

test('a missing program and a missing working folder are reported as such', async () => {
  const { dir, runner, cleanup } = await setup()
  try {
    const notFound = await rejection(runner.run({ argv: ['kube-spawn-not-installed', 'create'] }, build))
    assert.match(notFound.message, /^build \(denyattach\) failed: kube-spawn-not-installed create exited with code 127\n  last lines:\n    .*kube-spawn-not-installed: command not found/)

    const noCwd = await rejection(runner.run({ argv: ['make'], cwd: path.join(dir, 'gone') }, build))
    assert.is(noCwd.message, `build (denyattach) failed: make could not start: its working folder ${path.join(dir, 'gone')} does not exist\n  (no output)`)
  } finally {
    await cleanup()
  }
})

test('dry-run prints every command in order and runs only those that read', async () => {
  const { dir, runner, events, cleanup } = await setup({ dryRun: true })
  try {
    const touched = path.join(dir, 'touched')
    const first = await runner.run({ argv: ['touch', touched] }, build)
    const read = await runner.run({ argv: ['sh', '-c', 'echo abc123'], reads: true, capture: true }, build)
    await runner.run({ argv: ['docker', 'push', 'docker.io/kinvolk/hyperkube-amd64:v1.8.5'], needsRoot: true }, { id: 'share' })

    assert.not(existsSync(touched), 'a command that changes things must not run')
    assert.equal(first, { argv: ['touch', touched], commandLine: `touch ${touched}`, exitCode: 0, signal: null, durationMs: 0, tail: [], dryRun: true })
    assert.is(read.stdout, 'abc123\n')
    assert.is(read.dryRun, false)
    assert.is(read.logFile, undefined)
    assert.not(existsSync(path.join(dir, 'run')), 'dry-run writes no log files')

    const commands = events.filter((event) => event.kind === 'cmd')
    assert.equal(
      commands.map((event) => [event.commandLine, event.dryRun]),
      [
        [`touch ${touched}`, true],
        [`sh -c 'echo abc123'`, false],
        ['docker push docker.io/kinvolk/hyperkube-amd64:v1.8.5', true],
      ],
    )
  } finally {
    await cleanup()
  }
})

test('needsRoot prefixes sudo -E only when not root', async () => {
  const { dir, runner, events, cleanup } = await setup({ isRoot: false })
  try {
    const bin = path.join(dir, 'bin')
    await mkdir(bin)
    await writeFile(
      path.join(bin, 'sudo'),
      '#!/bin/sh\nprintf "%s\\n" "$@" > "$SUDO_ARGV"\n[ "$1" = -E ] && shift\nexec "$@"\n',
    )
    await chmod(path.join(bin, 'sudo'), 0o755)
    const env = { PATH: `${bin}:${process.env.PATH}`, SUDO_ARGV: path.join(dir, 'sudo-argv') }

    const argv = ['sh', '-c', 'echo "started $0"', 'denyattach cluster']
    const result = await runner.run({ argv, env, needsRoot: true, capture: true }, build)
    assert.is(result.stdout, 'started denyattach cluster\n')
    assert.is(await readFile(env.SUDO_ARGV, 'utf8'), ['-E', ...argv].join('\n') + '\n')
    assert.equal(result.argv, ['sudo', '-E', ...argv])
    assert.is(result.commandLine, `sudo -E sh -c 'echo "started $0"' 'denyattach cluster'`)
    assert.is(events[0]?.kind === 'cmd' && events[0].commandLine, result.commandLine)

    const { runner: asRoot, cleanup: cleanupRoot } = await setup({ isRoot: true })
    try {
      const rootResult = await asRoot.run({ argv: ['true'], env, needsRoot: true }, build)
      assert.equal(rootResult.argv, ['true'])
    } finally {
      await cleanupRoot()
    }
  } finally {
    await cleanup()
  }
})

test('secrets are replaced by *** in events, log files, tails and errors', async () => {
  const secret = 'hunter2-registry-pass'
  const token = 'ghp_0123456789abcdef'
  const { dir, runner, events, cleanup } = await setup({ secrets: [secret] })
  try {
    const script = [
      `echo "login with ${secret}"`,
      'echo "token is $GITHUB_TOKEN" >&2',
      // A secret split across two writes, and one inside a line far longer than any read.
      `printf 'split: hunter2-reg'; sleep 0.2; echo 'istry-pass done'`,
      `head -c 100000 /dev/zero | tr '\\0' x; printf '${secret}'; head -c 100000 /dev/zero | tr '\\0' y; echo`,
      'exit 3',
    ].join('\n')
    const error = await rejection(
      runner.run({ argv: ['sh', '-c', script, secret], env: { GITHUB_TOKEN: token } }, { id: 'share', variant: 'denyattach' }),
    )
    const log = await readFile(path.join(dir, 'run', 'denyattach', 'share.log'), 'utf8')
    const written = [log, JSON.stringify(events), error.message, JSON.stringify(error), (error as CommandError).failure.tail.join('\n')]
    for (const text of written) {
      assert.not.match(text, secret)
      assert.not.match(text, token)
    }
    assert.match(log, 'login with ***\n')
    assert.match(log, 'token is ***\n')
    assert.match(log, 'split: *** done\n')
    assert.match(log, `${'x'.repeat(100000)}***${'y'.repeat(100000)}\n`)
    assert.match(error.message, /^share \(denyattach\) failed: sh -c \$'echo "login with \*\*\*"\\n.* '\*\*\*' exited with code 3\n/)
    const stderr = events.filter((event) => event.kind === 'output' && event.stream === 'stderr')
    assert.equal(stderr.map((event) => event.kind === 'output' && event.line), ['token is ***'], 'redacted output keeps its stream')
  } finally {
    await cleanup()
  }
})

// Where a command's stdout and stderr go, as the command itself sees them.
const outputTargets = `readlink /proc/$$/fd/1 /proc/$$/fd/2`

test('a command given no secret writes both streams straight into the log, in order, and the tail and events follow it', async () => {
  const { dir, runner, events, cleanup } = await setup({ secrets: ['hunter2-registry-pass'] })
  try {
    const script = `${outputTargets}; for i in $(seq 1 300); do echo "out $i"; echo "err $i" >&2; done`
    const result = await runner.run({ argv: ['sh', '-c', script], env: { KUBECONFIG: '/etc/kubeconfig' } }, build)

    const logFile = path.join(dir, 'run', 'denyattach', 'build.log')
    const printed = Array.from({ length: 300 }, (_, i) => [`out ${i + 1}`, `err ${i + 1}`]).flat()
    const log = (await readFile(logFile, 'utf8')).split('\n')
    assert.equal(log.slice(2, 4), [logFile, logFile], 'stdout and stderr are the log file itself')
    assert.equal(log.slice(4, -2), printed)
    assert.match(log.at(-2) ?? '', /^# exited with code 0 \(\d+ms\)$/)
    assert.equal(result.tail, printed.slice(-40))

    const lines = events.flatMap((event) => (event.kind === 'output' ? [event.line] : []))
    assert.is(lines.at(-1), 'err 300')
    const order = lines.filter((line) => line !== logFile).map((line) => printed.indexOf(line))
    assert.ok(!order.includes(-1), 'events carry printed lines')
    assert.ok(
      order.every((at, i) => i === 0 || at > (order[i - 1] as number)),
      'events keep the order, without repeats',
    )
  } finally {
    await cleanup()
  }
})

test('a command given a secret in argv, env or stdin, or that may print one, is piped through redaction', async () => {
  const secret = 'hunter2-registry-pass'
  const { dir, runner, events, cleanup } = await setup({ secrets: [secret] })
  try {
    const credentials = path.join(dir, 'credentials')
    await writeFile(credentials, `password: ${secret}\n`)
    const commands = [
      { argv: ['sh', '-c', `${outputTargets}; echo "$1"`, 'login', secret] },
      { argv: ['sh', '-c', `${outputTargets}; echo "$REGISTRY_PASSWORD"`], env: { REGISTRY_PASSWORD: secret } },
      { argv: ['sh', '-c', `${outputTargets}; cat`], stdin: `${secret}\n` },
      { argv: ['sh', '-c', `${outputTargets}; cat "$1"`, 'show', credentials], mayPrintSecrets: true },
    ]
    for (const command of commands) await runner.run(command, { id: 'login' })

    const log = await readFile(path.join(dir, 'run', 'login.log'), 'utf8')
    for (const text of [log, JSON.stringify(events)]) assert.not.match(text, secret)
    assert.is(log.match(/^socket:\[\d+\]$/gm)?.length, 2 * commands.length, 'output came through kspawn')
    assert.is(log.match(/^(password: )?\*\*\*$/gm)?.length, commands.length)
  } finally {
    await cleanup()
  }
})

test('a command whose stdout is a secret has only its stderr in the log, events, tail and errors; capture still gets it', async () => {
  const token = 'gho_printedByTheCommand0123456789abcdef'
  const { dir, runner, events, cleanup } = await setup()
  try {
    const script = `echo ${token.slice(0, 10)}"${token.slice(10)}"; echo "logged in" >&2; exit "$1"`
    const result = await runner.run({ argv: ['sh', '-c', script, 'gh', '0'], capture: true, secretStdout: true }, { id: 'plan' })
    assert.is(result.stdout, `${token}\n`)
    assert.equal(result.tail, ['logged in'])
    const error = await rejection(runner.run({ argv: ['sh', '-c', script, 'gh', '1'], secretStdout: true }, { id: 'plan' }))
    assert.instance(error, CommandError)
    assert.equal((error as CommandError).failure.tail, ['logged in'])

    const log = await readFile(path.join(dir, 'run', 'plan.log'), 'utf8')
    assert.match(log, '# stdout: not kept, it is a secret\nlogged in\n')
    for (const text of [log, JSON.stringify(events), error.message]) assert.not.match(text, token)
    assert.equal(
      events.flatMap((event) => (event.kind === 'output' ? [event] : [])),
      [1, 2].map(() => ({ kind: 'output', step: 'plan', stream: 'stderr', line: 'logged in' })),
    )
  } finally {
    await cleanup()
  }
})

test("secret-looking variables of kspawn's environment reach a command only when it passes them", async () => {
  const token = 'ghp_inherited0123456789'
  const secret = 'hunter2-registry-pass'
  const { dir, runner, cleanup } = await setup({ secrets: [secret] })
  const names = ['GITHUB_TOKEN', 'KSPAWN_TEST_HOLDS_SECRET', 'KSPAWN_TEST_PLAIN']
  try {
    Object.assign(process.env, { GITHUB_TOKEN: token, KSPAWN_TEST_HOLDS_SECRET: `user:${secret}`, KSPAWN_TEST_PLAIN: 'plain' })
    const show = ['sh', '-c', 'echo ${GITHUB_TOKEN:-unset} ${KSPAWN_TEST_HOLDS_SECRET:-unset} ${KSPAWN_TEST_PLAIN:-unset}']

    const inherited = await runner.run({ argv: show, capture: true }, build)
    assert.is(inherited.stdout, 'unset unset plain\n')
    const direct = await runner.run({ argv: show }, build)
    assert.equal(direct.tail, ['unset unset plain'])

    const passed = await runner.run({ argv: show, env: { GITHUB_TOKEN: process.env.GITHUB_TOKEN }, capture: true }, build)
    assert.is(passed.stdout, `${token} unset plain\n`)
    assert.equal(passed.tail, ['*** unset plain'])
    assert.not.match(await readFile(path.join(dir, 'run', 'denyattach', 'build.log'), 'utf8'), token)
  } finally {
    for (const name of names) delete process.env[name]
    await cleanup()
  }
})

test('output events arrive while a command that prints slowly is still running', async () => {
  const { runner, events, cleanup } = await setup()
  try {
    let ended = false
    const running = runner
      .run({ argv: ['sh', '-c', 'for i in 1 2 3 4 5 6; do echo "step $i"; sleep 0.3; done'] }, build)
      .finally(() => (ended = true))
    const seen = () => events.flatMap((event) => (event.kind === 'output' ? [event.line] : []))
    for (let i = 0; i < 100 && seen().length < 2; i++) await sleep(20)
    assert.equal(seen().slice(0, 2), ['step 1', 'step 2'])
    assert.not.ok(ended, 'the command was still running')
    await running
    assert.equal(seen(), ['step 1', 'step 2', 'step 3', 'step 4', 'step 5', 'step 6'])
  } finally {
    await cleanup()
  }
})

test('two commands run at once, each in its own working folder', async () => {
  const { dir, runner, events, cleanup } = await setup()
  try {
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')]
    await mkdir(a)
    await mkdir(b)
    const pwdSlowly = ['sh', '-c', 'sleep 0.3; pwd']
    const [inA, inB] = await Promise.all([
      runner.run({ argv: pwdSlowly, cwd: a, capture: true }, { id: 'build', variant: 'a' }),
      runner.run({ argv: pwdSlowly, cwd: b, capture: true }, { id: 'build', variant: 'b' }),
    ])
    assert.is(inA.stdout, `${a}\n`)
    assert.is(inB.stdout, `${b}\n`)
    assert.match(await readFile(path.join(dir, 'run', 'a', 'build.log'), 'utf8'), `\n${a}\n`)
    assert.match(await readFile(path.join(dir, 'run', 'b', 'build.log'), 'utf8'), `\n${b}\n`)
    // Both had started before either ended.
    assert.equal(events.map((event) => event.kind).slice(0, 2), ['cmd', 'cmd'])
  } finally {
    await cleanup()
  }
})

test('big output: the log gets every line, memory keeps a bounded tail, events are sampled', async () => {
  const { dir, runner, events, cleanup } = await setup({ tailLines: 40, tailBytes: 64 * 1024 })
  try {
    const result = await runner.run({ argv: ['seq', '1', '200000'] }, { id: 'build' })
    const log = (await readFile(path.join(dir, 'run', 'build.log'), 'utf8')).split('\n')
    assert.is(log.length, 200000 + 4)
    assert.is(log[2], '1')
    assert.is(log[200001], '200000')

    assert.equal(result.tail, Array.from({ length: 40 }, (_, i) => String(200000 - 39 + i)))

    const lines = events.filter((event): event is Extract<KspawnEvent, { kind: 'output' }> => event.kind === 'output')
    assert.ok(lines.length < 10000, `${lines.length} output events for 200000 lines`)
    assert.is(lines.at(-1)?.line, '200000')
    const numbers = lines.map((event) => Number(event.line))
    assert.equal(numbers, [...numbers].sort((x, y) => x - y), 'sampled lines keep their order')
  } finally {
    await cleanup()
  }
})

test('tail bytes bound long lines too', async () => {
  const { runner, cleanup } = await setup({ tailLines: 40, tailBytes: 8 * 1024 })
  try {
    const result = await runner.run({ argv: ['sh', '-c', `head -c 1000000 /dev/zero | tr '\\0' x; echo; echo last`] }, { id: 'build' })
    assert.ok(result.tail.join('\n').length <= 8 * 1024, 'tail within its byte bound')
    assert.is(result.tail.at(-1), 'last')
  } finally {
    await cleanup()
  }
})

test('stdin is passed to the command, and env entries are added or removed', async () => {
  const { runner, cleanup } = await setup()
  try {
    process.env.KSPAWN_TEST_REMOVED = 'present'
    const result = await runner.run(
      {
        argv: ['sh', '-c', 'cat; echo "$KSPAWN_TEST_ADDED ${KSPAWN_TEST_REMOVED:-removed}"'],
        stdin: 'apiVersion: v1\n',
        env: { KSPAWN_TEST_ADDED: 'added', KSPAWN_TEST_REMOVED: undefined },
        capture: true,
      },
      build,
    )
    assert.is(result.stdout, 'apiVersion: v1\nadded removed\n')
    const noStdin = await runner.run({ argv: ['cat'], capture: true }, build)
    assert.is(noStdin.stdout, '', 'without stdin a command reads end of file at once')
  } finally {
    delete process.env.KSPAWN_TEST_REMOVED
    await cleanup()
  }
})

test.run()
