// Finding and running config files, written into temporary folders as users
// write them, and the messages when a file cannot be run.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { ConfigError, UsageError } from '../../engine/errors.ts'
import { configFileNames, findConfigFile, loadConfig as loadWith } from '../../engine/config/load-config.ts'
import { builtinPlugins } from '../../plugins/index.ts'

const loadConfig = (options: Omit<Parameters<typeof loadWith>[0], 'plugins'>) => loadWith({ plugins: builtinPlugins, ...options })
import type { AdmissionTester } from '../../plugins/admission/index.ts'

const repo = path.resolve(import.meta.dirname, '../..')

let root = ''
test.before.each(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'kspawn-config-'))
})
test.after.each(async () => {
  await rm(root, { recursive: true, force: true })
})

async function write(file: string, text: string): Promise<string> {
  const full = path.join(root, file)
  await mkdir(path.dirname(full), { recursive: true })
  await writeFile(full, text)
  return full
}

async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<Error> {
  try {
    await loadConfig(options)
  } catch (error) {
    return error as Error
  }
  throw new Error('the config loaded')
}

const minimal = `
export default {
  kubernetes: { checkout: '/src/kubernetes' },
  deployer: { kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' } },
  variants: { denyattach: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattach' } },
}
`

test('findConfigFile: the nearest folder wins, then the first name in order', async () => {
  await write('kspawn.config.mjs', minimal)
  await write('kspawn.config.ts', minimal)
  await write('a/kspawn.config.js', minimal)
  await write('a/kspawn.config.mjs', minimal)
  await mkdir(path.join(root, 'a/b/c'), { recursive: true })
  await mkdir(path.join(root, 'a/kspawn.config.ts'))
  assert.is(findConfigFile(path.join(root, 'a/b/c')), path.join(root, 'a/kspawn.config.js'))
  assert.is(findConfigFile(root), path.join(root, 'kspawn.config.ts'))
  assert.equal(configFileNames, ['kspawn.config.ts', 'kspawn.config.mts', 'kspawn.config.js', 'kspawn.config.mjs'])
})

test('findConfigFile: none in the folder or above it', async () => {
  assert.is(findConfigFile(root), undefined)
})

test('loads the config of a parent folder from a nested working folder', async () => {
  await write('kspawn.config.mts', minimal)
  await mkdir(path.join(root, 'docs/notes'), { recursive: true })
  const config = await loadConfig({ cwd: path.join(root, 'docs/notes') })
  assert.is(config.file, path.join(root, 'kspawn.config.mts'))
  assert.is(config.workdir, path.join(root, '.kspawn'))
  assert.equal(
    config.variants.map((variant) => [variant.name, variant.tag]),
    [['denyattach', 'v1.8.5-beta.0-denyattach']],
  )
})

test('names a parent folder config relative to the working folder in messages', async () => {
  await write('kspawn.config.ts', minimal.replace("'/src/kubernetes'", '42'))
  await mkdir(path.join(root, 'docs/notes'), { recursive: true })
  const error = await loadError({ cwd: path.join(root, 'docs/notes') })
  assert.instance(error, ConfigError)
  assert.is(error.message, '../../kspawn.config.ts: kubernetes.checkout: expected the path of your Kubernetes checkout, found 42')
})

test('loads a TypeScript config with types that imports kspawn and its plugins', async () => {
  await write(
    'project/kspawn.config.ts',
    `import { defineConfig, type UserConfig, type UserSource } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kubeSpawn, type KubeSpawnOptions } from 'kspawn/plugins/kube-spawn'

interface Fork { remote: string; branch: string }
const fork: Fork = { remote: '../remotes/kinvolk-kubernetes.git', branch: 'alban/v1.8.5-beta.0-denyattach' }
const nodes: KubeSpawnOptions['nodes'] = 3
const source = <T extends UserSource>(value: T): T => value

export default defineConfig({
  kubernetes: { checkout: '~/go/src/k8s.io/kubernetes' },
  deployer: kubeSpawn({ nodes, dir: '/tmp/kube-spawn' }),
  variants: {
    denyattach: { source: source(fork), tag: 'v1.8.5-beta.0-denyattach' },
    denyattachfix: {
      image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
      smoke: [admission.denies('attach', { message: /rejected by DenyAttach/ })],
    },
  },
  smoke: [admission.denies('attach', { message: 'rejected by admission controller' })],
} satisfies UserConfig)
`,
  )
  const config = await loadConfig({ cwd: path.join(root, 'project'), home: '/home/dev' })
  assert.is(config.kubernetes.checkout, '/home/dev/go/src/k8s.io/kubernetes')
  // Plugin values keep their behaviour on a prototype; their fields are what the config set.
  assert.equal({ ...config.deployer }, { kind: 'deployer', name: 'kube-spawn', options: { nodes: 3, dir: '/tmp/kube-spawn', sudo: 'auto', readySeconds: 180 } })
  const [built, external] = config.variants
  assert.equal(built?.build, { remote: path.join(root, 'remotes/kinvolk-kubernetes.git'), ref: { branch: 'alban/v1.8.5-beta.0-denyattach' } })
  assert.equal(built?.smoke.map((tester) => ({ ...tester })), [
    { message: 'rejected by admission controller', kind: 'tester', name: 'admission', operation: 'attach', expect: 'deny' },
  ])
  assert.is(external?.image?.tag, 'v1.8.5-beta.0-denyattachfix')
  const message = (external?.smoke[0] as { message?: unknown } | undefined)?.message
  assert.instance(message, RegExp)
  assert.ok((message as RegExp).test('cannot attach to a container, rejected by DenyAttach'))
})

test('loads a JavaScript module config', async () => {
  await write(
    'kspawn.config.mjs',
    `import { defineConfig } from 'kspawn'
import { kubeSpawn } from 'kspawn/plugins/kube-spawn'

/** @type {import('kspawn').UserConfig['variants']} */
const variants = { denyattach: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattach' } }
export default defineConfig({ kubernetes: { checkout: '../kubernetes' }, deployer: kubeSpawn(), variants })
`,
  )
  const config = await loadConfig({ cwd: root })
  assert.is(config.kubernetes.checkout, path.join(path.dirname(root), 'kubernetes'))
  assert.is(config.variants[0]?.cluster, 'denyattach')
})

test('--config names a file to load instead of discovering one', async () => {
  await write('kspawn.config.ts', 'throw new Error("not this one")')
  await write('configs/dev.ts', minimal)
  const config = await loadConfig({ cwd: root, configFile: 'configs/dev.ts' })
  assert.is(config.file, path.join(root, 'configs/dev.ts'))
  assert.is(config.workdir, path.join(root, 'configs/.kspawn'))
})

test('--config: a missing file, a folder, an unknown extension', async () => {
  await write('configs/dev.json', '{}')
  const cases: [string, string][] = [
    ['configs/nope.ts', 'configs/nope.ts: no such file'],
    ['configs', 'configs: expected a config file, found a folder'],
    ['configs/dev.json', 'configs/dev.json: expected a .ts, .mts, .js or .mjs file, found a .json'],
  ]
  for (const [configFile, message] of cases) {
    const error = await loadError({ cwd: root, configFile })
    assert.instance(error, ConfigError)
    assert.is(error.message, message)
  }
})

test('no config file anywhere is a usage error', async () => {
  const error = await loadError({ cwd: root })
  assert.instance(error, UsageError)
  assert.is((error as UsageError).exitCode, 2)
  assert.is(
    error.message,
    `no kspawn.config.ts, kspawn.config.mts, kspawn.config.js, kspawn.config.mjs in ${root} or a folder above it: create one, or name one with --config <file>`,
  )
})

const loadFailures: [name: string, file: string, text: string, message: string][] = [
  [
    'a syntax error, with its line and column',
    'kspawn.config.ts',
    `import { defineConfig } from 'kspawn'\nexport default defineConfig({\n  variants: {,\n})\n`,
    'kspawn.config.ts:3:14: syntax error: Unexpected token',
  ],
  [
    'a syntax error in a module the config imports',
    'kspawn.config.ts',
    `import { variants } from './variants.ts'\nexport default { variants }\n`,
    'kspawn.config.ts: syntax error in variants.ts:1:26, which the config imports: Unexpected token',
  ],
  [
    'a config that throws, with the line',
    'kspawn.config.ts',
    `const gopath: string | undefined = undefined\n\nif (!gopath) throw new Error('set GOPATH first')\nexport default {}\n`,
    'kspawn.config.ts:3: the config threw Error: set GOPATH first',
  ],
  [
    'a config whose helper throws',
    'kspawn.config.mjs',
    `import { fork } from './helpers.mjs'\n\nexport default { variants: fork() }\n`,
    "kspawn.config.mjs:3: the config threw TypeError: Cannot read properties of undefined (reading 'remote') (at helpers.mjs:2)",
  ],
  [
    'a missing package',
    'kspawn.config.ts',
    `import { fork } from '@kinvolk/kspawn-forks/denyattach'\nexport default { fork }\n`,
    "kspawn.config.ts: cannot load the config: Cannot find module '@kinvolk/kspawn-forks/denyattach'; install it next to the config (npm install @kinvolk/kspawn-forks)",
  ],
  [
    'no default export',
    'kspawn.config.ts',
    `export const config = {}\nexport const other = 1\n`,
    'kspawn.config.ts: expected a default export (export default defineConfig({ ... })), found only the exports config, other',
  ],
  ['an empty file', 'kspawn.config.ts', '', 'kspawn.config.ts: expected a default export (export default defineConfig({ ... })), found no exports'],
]

for (const [name, file, text, message] of loadFailures) {
  test(`reports ${name}`, async () => {
    await write('variants.ts', 'export const variants = {,}\n')
    await write('helpers.mjs', 'const settings = {}\nexport const fork = () => settings.fork.remote\n')
    await write(file, text)
    const error = await loadError({ cwd: root })
    assert.instance(error, ConfigError)
    assert.is(error.message, message)
  })
}

test('reads a config again once it changed', async () => {
  await write('kspawn.config.ts', minimal)
  assert.is((await loadConfig({ cwd: root })).kubernetes.checkout, '/src/kubernetes')
  await write('kspawn.config.ts', minimal.replace('/src/kubernetes', '/src/k8s'))
  assert.is((await loadConfig({ cwd: root })).kubernetes.checkout, '/src/k8s')
})

test('the shipped kspawn.config.ts is the article loop, and valid', async () => {
  const config = await loadConfig({ cwd: repo, configFile: 'kspawn.config.ts', home: '/home/dev' })
  assert.is(config.kubernetes.checkout, '/home/dev/go/src/k8s.io/kubernetes')
  assert.equal(config.share, { repository: 'docker.io/kinvolk' })
  const [denyattach, fix] = config.variants
  assert.equal(denyattach && { ...denyattach, smoke: undefined }, {
    name: 'denyattach',
    cluster: 'denyattach',
    deployer: config.deployer,
    tag: 'v1.8.5-beta.0-denyattach',
    build: { remote: 'https://github.com/kinvolk/kubernetes', ref: { branch: 'alban/v1.8.5-beta.0-denyattach' } },
    smoke: undefined,
  })
  assert.is(config.deployer.name, 'kube-spawn')
  assert.is(fix?.image?.ref, 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix')
  assert.is(fix?.tag, 'v1.8.5-beta.0-denyattachfix')
  assert.is(fix?.cluster, 'denyattachfix')
  // Each variant's smoke test expects the denial its build gives, in the article's words.
  const [denied, deniedByFix] = config.variants.map((variant) => variant.smoke as AdmissionTester[])
  const rejection = (controller: string) => `pods "mypod" is forbidden: cannot attach to a container, rejected by ${controller}`
  const matches = ({ message = '' }: AdmissionTester, text: string) => (typeof message === 'string' ? text.includes(message) : message.test(text))
  assert.equal(denied?.map((tester) => [tester.operation, tester.expect]), [['attach', 'deny']])
  assert.ok(matches(denied![0]!, rejection('admission controller')))
  assert.not.ok(matches(denied![0]!, rejection('DenyAttach')))
  assert.equal(deniedByFix?.map((tester) => [tester.operation, tester.expect]), [['attach', 'deny']])
  assert.ok(matches(deniedByFix![0]!, rejection('DenyAttach')))
})

test('package.json exports what a config can import: kspawn, and each plugin kspawn ships from its folder', async () => {
  const manifest = JSON.parse(await readFile(path.join(repo, 'package.json'), 'utf8'))
  assert.equal(manifest.exports['.'], { types: './dist/index.d.ts', default: './dist/index.js' })
  assert.equal(manifest.exports['./plugins/*'], { types: './dist/plugins/*/index.d.ts', default: './dist/plugins/*/index.js' })
  for (const plugin of builtinPlugins) {
    assert.is(plugin.module, `kspawn/plugins/${plugin.name}`)
    assert.is(plugin.file, path.join(repo, 'plugins', plugin.name, 'index.ts'))
  }
  assert.is(manifest.types, manifest.exports['.'].types)
})

test.run()
