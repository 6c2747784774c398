import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { LineSplitter } from '../../engine/runner/lines.ts'
import { createRedactor, secretsFromEnv } from '../../engine/runner/redact.ts'

test('every secret is replaced, the longest first', () => {
  const redactor = createRedactor(['abc', 'abcdef', ''])
  assert.is(redactor.redact('x abcdef y abc z'), 'x *** y *** z')
  assert.is(createRedactor([]).redact('nothing to hide'), 'nothing to hide')
})

test('a multi-line secret is matched line by line', () => {
  const redactor = createRedactor(['-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----\n'])
  assert.is(redactor.redact('MIIEvQIBADANBg'), '***')
})

test('env values count as secrets when their names say so', () => {
  assert.equal(secretsFromEnv({ GITHUB_TOKEN: 't', REGISTRY_PASSWORD: 'p', client_secret: 's', EMPTY_TOKEN: '', KUBECONFIG: '/k', GONE_SECRET: undefined }), ['t', 'p', 's'])
})

test('streamed text is redacted whatever the chunks and line lengths', () => {
  const secret = 'hunter2-registry'
  const redactor = createRedactor([secret, 'tok'])
  const text = `start ${secret}\n${'x'.repeat(50)}${secret}${'y'.repeat(45)}tok${secret}\nmiddle tok\n${'z'.repeat(40)}${secret}`
  const expected = redactor.redact(text)
  for (const size of [1, 2, 3, 5, 7, 16, 17, 31, 64, 1000]) {
    let written = ''
    const lines: string[] = []
    const splitter = new LineSplitter(redactor, { text: (chunk) => (written += chunk), lines: (last) => lines.push(...last) }, 3, 20)
    for (let i = 0; i < text.length; i += size) splitter.push(text.slice(i, i + size))
    splitter.end()
    assert.is(written, expected, `chunks of ${size}`)
    assert.not.match(lines.join('\n'), secret)
    assert.ok(lines.at(-1)?.endsWith('z***'), 'the last line is passed on at the end')
  }
})

test.run()
