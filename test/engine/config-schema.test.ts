// Validation and normalization of a config's default export: the exact
// messages a user sees, and the Config the rest of kspawn reads.
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { loadPlugins, parseConfig } from '../../engine/config/config-schema.ts'
import { builtinPlugins } from '../../plugins/index.ts'

const plugins = await loadPlugins(builtinPlugins)
import { ConfigError } from '../../engine/errors.ts'
import { admission } from '../../plugins/admission/index.ts'
import { kubeSpawn } from '../../plugins/kube-spawn/index.ts'

const file = '/work/project/kspawn.config.ts'
const parse = (input: unknown) => parseConfig(input, { plugins, file, displayFile: 'kspawn.config.ts', home: '/home/dev' })

/** A valid config, with `change` applied to a copy. */
function config(change: (config: any) => void = () => {}): any {
  const value = {
    kubernetes: { checkout: '~/go/src/k8s.io/kubernetes' },
    deployer: kubeSpawn({ nodes: 2 }),
    variants: {
      denyattach: {
        source: { remote: 'https://github.com/kinvolk/kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' },
        tag: 'v1.8.5-beta.0-denyattach',
      },
    },
  }
  change(value)
  return value
}

function problems(input: unknown): string[] {
  try {
    parse(input)
  } catch (error) {
    assert.instance(error, ConfigError)
    assert.is((error as ConfigError).exitCode, 2)
    return (error as ConfigError).message.split('\n')
  }
  assert.unreachable('the config was accepted')
  return []
}

const tag = 'a Docker image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})'
const cluster = 'a cluster name (a lowercase DNS label not ending in a digit)'
const digit = (name: string, stem: string, suggestions: string) =>
  `it ends in a digit; kube-spawn v0.2 names machines kubespawn<cluster><index>, so machine 0 of cluster "${name}" and machine ${name.slice(stem.length)}0 of cluster "${stem}" are both kubespawn${name}0: use a name ending in a letter, such as ${suggestions}`
const digest = `sha256:${'0123456789abcdef'.repeat(4)}`

const cases: [name: string, input: any, messages: string[]][] = [
  [
    'a GitHub API that is not an http(s) URL',
    config((c) => (c.github = { api: 'ghe.example.com/api/v3' })),
    ['kspawn.config.ts: github.api: expected a GitHub API URL, such as https://github.example.com/api/v3, found "ghe.example.com/api/v3" (it is not a URL)'],
  ],
  [
    'a GitHub API URL with credentials, which the message does not repeat',
    config((c) => (c.github = { api: 'https://alban:ghp_s3cret@ghe.example.com/api/v3' })),
    ['kspawn.config.ts: github.api: expected a GitHub API URL, such as https://github.example.com/api/v3, found a URL with credentials (it holds credentials; give the token in GITHUB_TOKEN instead)'],
  ],
  [
    'an invalid image tag',
    config((c) => (c.variants.denyattach.tag = 'v1.8:bad')),
    [`kspawn.config.ts: variants.denyattach.tag: expected ${tag}, found "v1.8:bad" (it contains ":")`],
  ],
  [
    'a misspelt field',
    config((c) => {
      c.variants.denyattach.tga = c.variants.denyattach.tag
      delete c.variants.denyattach.tag
    }),
    [
      'kspawn.config.ts: variants.denyattach: expected only the fields source, tag, image, cluster, deployer and smoke, found unknown field "tga" (did you mean "tag"?)',
      `kspawn.config.ts: variants.denyattach.tag: expected ${tag} to name the image built from source, found nothing`,
    ],
  ],
  [
    'an unknown top-level field',
    config((c) => (c.clusters = {})),
    ['kspawn.config.ts: expected only the fields kubernetes, workdir, plugins, deployer, variants, smoke, share, cache and github, found unknown field "clusters"'],
  ],
  [
    'a missing checkout',
    config((c) => (c.kubernetes = {})),
    ['kspawn.config.ts: kubernetes.checkout: expected the path of your Kubernetes checkout, found nothing'],
  ],
  [
    'a missing kubernetes section',
    config((c) => delete c.kubernetes),
    ['kspawn.config.ts: kubernetes: expected { checkout: <path of your Kubernetes checkout> }, found nothing'],
  ],
  [
    'a cluster name ending in a digit',
    config((c) => (c.variants.denyattach.cluster = 'deny2')),
    [`kspawn.config.ts: variants.denyattach.cluster: expected ${cluster}, found "deny2" (${digit('deny2', 'deny', '"deny-two" or "denyb"')})`],
  ],
  [
    'a variant name that cannot name its cluster',
    config((c) => (c.variants.fix2 = { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix' })),
    [
      'kspawn.config.ts: variants.fix2: expected a variant name that is a valid cluster name, or a cluster field (a cluster is named after its variant by default), ' +
        `found "fix2" (${digit('fix2', 'fix', '"fix-two" or "fixb"')})`,
    ],
  ],
  [
    'a variant name that cannot name files',
    config((c) => (c.variants['deny attach'] = { image: 'busybox:1', cluster: 'busybox' })),
    [
      'kspawn.config.ts: variants["deny attach"]: expected a variant name of up to 63 letters, digits, ".", "_" and "-", starting with a letter or digit ' +
        '(it names files and is typed on the command line), found "deny attach"',
    ],
  ],
  [
    'two variants on one cluster',
    config((c) => (c.variants.other = { image: 'busybox:1', cluster: 'denyattach' })),
    ['kspawn.config.ts: variants.other.cluster: expected a cluster name no other variant uses, found "denyattach" (variants.denyattach uses it too)'],
  ],
  [
    'a source with two refs',
    config((c) => (c.variants.denyattach.source.commit = 'c117bd71672b2da7c7777cddf0287b07d29b90e5')),
    ['kspawn.config.ts: variants.denyattach.source: expected one of branch, commit or tag, found branch and commit'],
  ],
  [
    'a source with no ref',
    config((c) => delete c.variants.denyattach.source.branch),
    ['kspawn.config.ts: variants.denyattach.source: expected one of branch, commit or tag, found none'],
  ],
  [
    'a variant that neither builds nor names an image',
    config((c) => (c.variants.denyattach = { cluster: 'denyattach' })),
    ['kspawn.config.ts: variants.denyattach: expected source and tag (to build an image) or image (to use an external one), found neither'],
  ],
  [
    'a tag without a source',
    config((c) => delete c.variants.denyattach.source),
    ['kspawn.config.ts: variants.denyattach.source: expected the source to build (or image, to use an external image), found nothing'],
  ],
  [
    'an image pinned by digest only',
    config((c) => (c.variants.denyattach = { image: `docker.io/kinvolk/hyperkube-amd64@${digest}` })),
    [`kspawn.config.ts: variants.denyattach.tag: expected ${tag} to run the image by, as its reference has a digest but no tag, found nothing`],
  ],
  [
    'an image with neither tag nor digest',
    config((c) => (c.variants.denyattach = { image: 'docker.io/kinvolk/hyperkube-amd64' })),
    [
      'kspawn.config.ts: variants.denyattach.image: expected an image reference ([registry/]repository:tag or [registry/]repository@sha256:<digest>), ' +
        'found "docker.io/kinvolk/hyperkube-amd64" (it has neither a tag nor a digest)',
    ],
  ],
  [
    'a remote without its scheme',
    config((c) => (c.variants.denyattach.source.remote = 'github.com/kinvolk/kubernetes')),
    [
      'kspawn.config.ts: variants.denyattach.source.remote: expected a git remote (https://…, ssh://…, user@host:path, file://… or a path), ' +
        'found "github.com/kinvolk/kubernetes" (it is not a URL, user@host:path, or a path starting with /, ./, ../ or ~/)',
    ],
  ],
  [
    'a branch name git refuses',
    config((c) => (c.variants.denyattach.source.branch = 'alban/v1.8..denyattach')),
    ['kspawn.config.ts: variants.denyattach.source.branch: expected a git branch name, found "alban/v1.8..denyattach" (it contains "..")'],
  ],
  [
    'a short commit id',
    config((c) => (c.variants.denyattach.source = { remote: 'https://github.com/kinvolk/kubernetes', commit: 'c117bd' })),
    ['kspawn.config.ts: variants.denyattach.source.commit: expected a commit id (7 to 40 hexadecimal digits), found "c117bd"'],
  ],
  [
    'a share repository with a tag',
    config((c) => (c.share = { repository: 'docker.io/kinvolk:latest' })),
    ['kspawn.config.ts: share.repository: expected a repository to push images to, such as docker.io/kinvolk, found "docker.io/kinvolk:latest" (it has a tag)'],
  ],
  [
    'a tester where the deployer goes',
    config((c) => (c.deployer = admission.denies('attach'))),
    ['kspawn.config.ts: deployer: expected a deployer such as kubeSpawn() from \'kspawn/plugins/kube-spawn\' or kind() from \'kspawn/plugins/kind\', found tester "admission"'],
  ],
  [
    'a deployer kspawn does not know',
    config((c) => (c.deployer = { kind: 'deployer', name: 'minikube', options: {} })),
    [
      'kspawn.config.ts: deployer: expected a deployer such as kubeSpawn() from \'kspawn/plugins/kube-spawn\' or kind() from \'kspawn/plugins/kind\', found deployer "minikube" (known deployers: kube-spawn and kind)',
    ],
  ],
  [
    'bad deployer options',
    config((c) => (c.deployer = kubeSpawn({ nodes: 0, dir: 'kube-spawn', sudo: 'yes', readySeconds: 0, node: 3 } as any))),
    [
      'kspawn.config.ts: deployer.options.nodes: expected a number of machines from 1 to 20 (each is a machine on this computer), found 0',
      'kspawn.config.ts: deployer.options.dir: expected an absolute path, found "kube-spawn"',
      'kspawn.config.ts: deployer.options.sudo: expected "auto", true or false, found "yes"',
      'kspawn.config.ts: deployer.options.readySeconds: expected a number of seconds, at least 1, found 0',
      'kspawn.config.ts: deployer.options: expected only the fields nodes, dir, sudo and readySeconds, found unknown field "node" (did you mean "nodes"?)',
    ],
  ],
  [
    'bad testers',
    config((c) => {
      c.smoke = admission.denies('attach')
      c.variants.denyattach.smoke = [
        'attach',
        admission.denies('exec' as any, { message: 42 as any }),
        admission.denies('attach', { messsage: 'x' } as any),
      ]
    }),
    [
      "kspawn.config.ts: variants.denyattach.smoke[0]: expected a tester such as admission.denies('attach') from 'kspawn/plugins/admission', found \"attach\"",
      'kspawn.config.ts: variants.denyattach.smoke[1].operation: expected the operation "attach", found "exec"',
      'kspawn.config.ts: variants.denyattach.smoke[1].message: expected a RegExp, or a string the error message contains, found 42',
      'kspawn.config.ts: variants.denyattach.smoke[2]: expected only the fields kind, name, operation, expect, message and plugin, found unknown field "messsage" (did you mean "message"?)',
      'kspawn.config.ts: smoke: expected a list of testers, found tester "admission"',
    ],
  ],
  ['no variants', config((c) => (c.variants = {})), ['kspawn.config.ts: variants: expected at least one variant, found none']],
  [
    'a default export that is not a config',
    () => config(),
    ['kspawn.config.ts: expected a config object (export default defineConfig({ ... })), found a function'],
  ],
]

for (const [name, input, messages] of cases) {
  test(`reports ${name}`, () => {
    assert.equal(problems(input), messages)
  })
}

test('reports every problem at once, one line each', () => {
  const input = config((c) => {
    c.workdir = ''
    c.variants.denyattach.tag = 'v1.8:bad'
    c.variants.denyattach.cluster = 'Deny'
    c.variants.fix = { image: 'docker.io/kinvolk/HyperKube:fix', source: { remote: '../fork.git', tag: 'v1..8' } }
    c.share = { repo: 'docker.io/kinvolk' }
  })
  assert.equal(problems(input), [
    'kspawn.config.ts: workdir: expected a folder path, found "" (it is empty)',
    `kspawn.config.ts: variants.denyattach.tag: expected ${tag}, found "v1.8:bad" (it contains ":")`,
    `kspawn.config.ts: variants.denyattach.cluster: expected ${cluster}, found "Deny" (it contains "D")`,
    'kspawn.config.ts: variants.fix.source.tag: expected a git tag name, found "v1..8" (it contains "..")',
    'kspawn.config.ts: variants.fix.image: expected an image reference ([registry/]repository:tag or [registry/]repository@sha256:<digest>), ' +
      'found "docker.io/kinvolk/HyperKube:fix" (its part "HyperKube" is not lowercase letters and digits separated by ".", "_", "__" or "-")',
    'kspawn.config.ts: share.repository: expected a repository to push images to, such as docker.io/kinvolk, found nothing',
    'kspawn.config.ts: share: expected only the field repository, found unknown field "repo"',
  ])
})

test('normalizes: absolute paths, defaults, one Variant per entry in order', () => {
  const deployer = kubeSpawn()
  const everywhere = admission.denies('attach', { message: /rejected by/ })
  const fixed = admission.denies('attach', { message: 'rejected by DenyAttach' })
  const loaded = parse(
    config((c) => {
      c.deployer = deployer
      c.smoke = [everywhere]
      c.variants.denyattach.source.remote = '../remotes/kinvolk-kubernetes.git'
      c.variants.denyattachfix = {
        image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
        source: { remote: 'git@github.com:kinvolk/kubernetes.git', commit: 'EB0C026372A67EB49BBF80AA619F10EE94527BAC' },
        smoke: [fixed],
      }
      c.variants.pinned = { image: `127.0.0.1:5000/hyperkube-amd64@${digest}`, tag: 'pinned', cluster: 'pinned-one', smoke: [] }
      c.share = { repository: 'docker.io/kinvolk' }
    }),
  )
  assert.equal(loaded, {
    file,
    kubernetes: { checkout: '/home/dev/go/src/k8s.io/kubernetes' },
    workdir: '/work/project/.kspawn',
    deployer: kubeSpawn(),
    variants: [
      {
        name: 'denyattach',
        cluster: 'denyattach',
        deployer,
        tag: 'v1.8.5-beta.0-denyattach',
        build: { remote: '/work/remotes/kinvolk-kubernetes.git', ref: { branch: 'alban/v1.8.5-beta.0-denyattach' } },
        smoke: [everywhere],
      },
      {
        name: 'denyattachfix',
        cluster: 'denyattachfix',
        deployer,
        tag: 'v1.8.5-beta.0-denyattachfix',
        image: {
          ref: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
          registry: 'docker.io',
          repository: 'kinvolk/hyperkube-amd64',
          tag: 'v1.8.5-beta.0-denyattachfix',
        },
        source: { remote: 'git@github.com:kinvolk/kubernetes.git', ref: { commit: 'eb0c026372a67eb49bbf80aa619f10ee94527bac' } },
        smoke: [fixed],
      },
      {
        name: 'pinned',
        cluster: 'pinned-one',
        deployer,
        tag: 'pinned',
        image: { ref: `127.0.0.1:5000/hyperkube-amd64@${digest}`, registry: '127.0.0.1:5000', repository: 'hyperkube-amd64', digest },
        source: undefined,
        smoke: [],
      },
    ],
    share: { repository: 'docker.io/kinvolk' },
    smoke: [everywhere],
    plugins: builtinPlugins,
  })
  // Plugin values are kept as their factories made them, ready to carry behaviour.
  assert.is(loaded.deployer, deployer)
  // A variant that names no deployer of its own runs on the config's.
  assert.is(loaded.variants[0]!.deployer, deployer)
  assert.is(loaded.variants[0]!.smoke[0], everywhere)
})

test('resolves workdir and file:// remotes as written', () => {
  const loaded = parse(
    config((c) => {
      c.workdir = '~'
      c.kubernetes.checkout = 'kubernetes'
      c.variants.denyattach.source = { remote: 'file:///srv/kubernetes.git', tag: 'v1.8.5' }
    }),
  )
  assert.is(loaded.workdir, '/home/dev')
  assert.is(loaded.kubernetes.checkout, '/work/project/kubernetes')
  assert.equal(loaded.variants[0]!.build, { remote: 'file:///srv/kubernetes.git', ref: { tag: 'v1.8.5' } })
})

test('keeps the GitHub Enterprise API URL, without a trailing slash', () => {
  assert.equal(parse(config((c) => (c.github = { api: 'https://ghe.example.com/api/v3/' }))).github, { api: 'https://ghe.example.com/api/v3' })
  assert.is(parse(config()).github, undefined)
})

test.run()
