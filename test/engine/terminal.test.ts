// Which renderer and whether colour, from the output and the environment.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { chooseRenderer, stripColor, useColor, withoutColor } from '../../engine/terminal.ts'

const terminal = { isTTY: true, write: () => true }
const pipe = { write: () => true }

test('the animated renderer on a terminal; plain lines in a pipe, in CI or on a dumb terminal; --renderer wins', () => {
  assert.is(chooseRenderer(undefined, terminal, {}), 'default')
  assert.is(chooseRenderer(undefined, pipe, {}), 'simple')
  assert.is(chooseRenderer(undefined, terminal, { CI: 'true' }), 'simple')
  assert.is(chooseRenderer(undefined, terminal, { CI: 'false' }), 'default')
  assert.is(chooseRenderer(undefined, terminal, { TERM: 'dumb' }), 'simple')
  assert.is(chooseRenderer('verbose', terminal, {}), 'verbose')
  assert.is(chooseRenderer('json', pipe, { CI: '1' }), 'json')
})

test('colour on a terminal, never with NO_COLOR, in a pipe with FORCE_COLOR', () => {
  assert.is(useColor(terminal, {}), true)
  assert.is(useColor(terminal, { NO_COLOR: '1' }), false)
  assert.is(useColor(pipe, {}), false)
  assert.is(useColor(pipe, { FORCE_COLOR: '1' }), true)
  assert.is(useColor(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }), false)
  assert.is(useColor(terminal, { FORCE_COLOR: '0' }), false)
})

test('removing colour keeps the cursor movements that redraw a list', () => {
  assert.is(stripColor('\x1b[32m✔\x1b[39m build \x1b[2m[2.1s]\x1b[22m'), '✔ build [2.1s]')
  assert.is(stripColor('\x1b[2K\x1b[1A\x1b[G'), '\x1b[2K\x1b[1A\x1b[G')
  const written: string[] = []
  const output = withoutColor({ isTTY: true, columns: 80, write: (text: string) => written.push(text) })
  output.write('\x1b[31m✖\x1b[39m image')
  assert.equal(written, ['✖ image'])
  assert.is(output.columns, 80)
})

test.run()
