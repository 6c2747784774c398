import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { formatCommandLine, quoteArg } from '../../engine/runner/command-line.ts'

test('plain words are shown as they are', () => {
  assert.is(formatCommandLine(['make', '-C', 'cluster/images/hyperkube', 'VERSION=v1.8.5-beta.0-denyattach']), 'make -C cluster/images/hyperkube VERSION=v1.8.5-beta.0-denyattach')
  assert.is(formatCommandLine(['docker', 'tag', 'docker.io/kinvolk/hyperkube-amd64:v1.8.5', 'gcr.io/google-containers/hyperkube-amd64:v1.8.5']), 'docker tag docker.io/kinvolk/hyperkube-amd64:v1.8.5 gcr.io/google-containers/hyperkube-amd64:v1.8.5')
})

test('anything a shell would interpret is single-quoted', () => {
  assert.is(quoteArg('while true ; do sleep 1 ; date ; done'), `'while true ; do sleep 1 ; date ; done'`)
  assert.is(quoteArg('$HOME'), `'$HOME'`)
  assert.is(quoteArg("it's"), `'it'\\''s'`)
  assert.is(quoteArg(''), `''`)
  assert.is(quoteArg('*'), `'*'`)
})

test('control characters keep the line on one line', () => {
  assert.is(quoteArg('a\nb\tc'), `$'a\\nb\\tc'`)
  assert.is(quoteArg("it's\n\\"), `$'it\\'s\\n\\\\'`)
  assert.is(quoteArg('\x1b[0m'), `$'\\x1b[0m'`)
})

test.run()
