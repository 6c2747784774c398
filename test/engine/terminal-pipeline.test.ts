// The animated list on a real pseudo-terminal of 80x24 (script(1), as a user's
// terminal): three variants each show their current step, the time it has
// taken and its last output line, in one frame.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { stripVTControlCharacters } from 'node:util'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'

const variants = ['denyattach', 'denyattachfix', 'third']
const shell = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

test('on an 80x24 terminal, three variants each show their current step, its time and its last line', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-pty-'))
  const release = path.join(dir, 'release')
  const argv = ['node', '--import', import.meta.resolve('tsx'), path.join(import.meta.dirname, 'terminal-pipeline.ts'), release, ...variants]
  // Fed from a pipe, script gives its terminal no size: stty gives it one of a small window.
  const command = `stty rows 24 cols 80 && exec ${argv.map(shell).join(' ')}`
  const child = spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm-256color', SHELL: '/bin/sh', CI: '', NO_COLOR: '', FORCE_COLOR: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let raw = ''
  let seen: string | undefined
  const everyVariant = (frame: string) =>
    variants.every(
      (variant) =>
        new RegExp(`^\\S+ ${variant} › Build v1\\.8\\.5-beta\\.0-${variant} \\[\\d+\\.\\ds\\]\\s*$`, 'm').test(frame) && new RegExp(`^\\s+› compiling ${variant}\\s*$`, 'm').test(frame),
    )
  const frames = () =>
    raw
      .split('\x1b[G')
      .map((frame) => stripVTControlCharacters(frame).replace(/\r\n/g, '\n'))
  const onData = (chunk: Buffer) => {
    raw += chunk.toString()
    if (seen === undefined) {
      seen = frames().find(everyVariant)
      if (seen !== undefined) void writeFile(release, '')
    }
  }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  // Not a timed assertion: a bound in case the awaited frame never comes, and the assertions after say why.
  const safety = setTimeout(() => void writeFile(release, ''), 30_000)
  try {
    const [code] = await once(child, 'close')
    assert.ok(seen, `a frame shows every variant's current step, its time and its last line; the last frames:\n${frames().slice(-3).join('\n----\n')}`)
    assert.ok(seen!.trimEnd().split('\n').length <= 24, 'the frame fits the terminal')
    assert.is(code, 0, stripVTControlCharacters(raw).slice(-2000))
    for (const variant of variants) assert.match(stripVTControlCharacters(raw), new RegExp(`✔ ${variant} \\[`))
  } finally {
    clearTimeout(safety)
    child.kill()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
