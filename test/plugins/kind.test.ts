// The kind deployer's pure parts and its conversation with kind and Docker,
// seen through the commands it hands to its StepIO: what it would run is
// what kind's own CLI takes (kubernetes-sigs/kind v0.32: build node-image
// takes the tree as its argument; clusters are found by their labels).
import { test } from '../suite.ts'
import * as assert from 'uvu/assert'
import { YAML } from 'zx'
import { loadPlugins, parseConfig } from '../../engine/config/config-schema.ts'
import { ConfigError } from '../../engine/errors.ts'
import type { StepIO } from '../../engine/plugin.ts'
import { formatCommandLine } from '../../engine/runner/command-line.ts'
import type { Command, CommandResult } from '../../engine/runner/runner.ts'
import { builtinPlugins } from '../../plugins/index.ts'
import { buildNodeImageArgv, clusterConfig, containersArgv, createArgv, deleteArgv, kind, parseContainers } from '../../plugins/kind/index.ts'
import { kindPlugin } from '../../plugins/kind/plugin.ts'

const plugins = await loadPlugins(builtinPlugins)

/** A StepIO that records commands and answers each with the stdout `answer` gives. */
function recordingIO(answer: (argv: string[]) => string = () => '', dryRun = false): StepIO & { commands: Command[]; infos: string[] } {
  const commands: Command[] = []
  const infos: string[] = []
  return {
    commands,
    infos,
    dryRun,
    isRoot: true,
    info: (message) => void infos.push(message),
    warn: () => {},
    run: async (command): Promise<CommandResult> => {
      commands.push(command)
      const ran = !dryRun || command.reads === true
      return { argv: command.argv, commandLine: formatCommandLine(command.argv), exitCode: 0, signal: null, durationMs: 0, tail: [], dryRun: !ran, ...(ran ? { stdout: answer(command.argv) } : {}) }
    },
  }
}

test("the commands are kind's own", () => {
  assert.equal(buildNodeImageArgv('/w/src/k8s.io/kubernetes', 'kspawn/kind-node:v1'), ['kind', 'build', 'node-image', '/w/src/k8s.io/kubernetes', '--type', 'source', '--image', 'kspawn/kind-node:v1'])
  assert.equal(buildNodeImageArgv('/t', 'i:t', 'docker.io/kindest/base:v20260601-995e8fa5').slice(-2), ['--base-image', 'docker.io/kindest/base:v20260601-995e8fa5'])
  assert.equal(createArgv('web', 'kspawn/kind-node:v1', '/k/web/kind-config.yaml', '/k/web/kubeconfig', 300), [
    'kind', 'create', 'cluster', '--name', 'web', '--image', 'kspawn/kind-node:v1', '--config', '/k/web/kind-config.yaml', '--kubeconfig', '/k/web/kubeconfig', '--wait', '300s',
  ])
  assert.equal(deleteArgv('web', '/k/web/kubeconfig'), ['kind', 'delete', 'cluster', '--name', 'web', '--kubeconfig', '/k/web/kubeconfig'])
  assert.equal(containersArgv('web'), ['docker', 'ps', '--all', '--filter', 'label=io.x-k8s.kind.cluster=web', '--format', '{{.Names}}\t{{.State}}\t{{.Label "io.x-k8s.kind.role"}}'])
})

test('the cluster config: its nodes, and the admission plugins as an unversioned kubeadm patch that kind converts for v1beta4', () => {
  assert.equal(clusterConfig({ workers: 2, controlPlanes: 1, admissionPlugins: [] }), {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    nodes: [{ role: 'control-plane' }, { role: 'worker' }, { role: 'worker' }],
  })
  const config = clusterConfig({ workers: 0, controlPlanes: 3, admissionPlugins: ['DenyAttach', 'NodeRestriction'], config: { networking: { ipFamily: 'ipv4' }, kubeadmConfigPatches: ['kind: KubeletConfiguration\n'] } })
  assert.equal(config.nodes, [{ role: 'control-plane' }, { role: 'control-plane' }, { role: 'control-plane' }])
  assert.equal(config.networking, { ipFamily: 'ipv4' })
  const [admission, own] = config.kubeadmConfigPatches as string[]
  assert.is(own, 'kind: KubeletConfiguration\n')
  // No apiVersion in the patch: kind ≥ 0.32 turns the map into v1beta4's list; older kubeadm configs take the map.
  assert.equal(YAML.parse(admission!), { kind: 'ClusterConfiguration', apiServer: { extraArgs: { 'enable-admission-plugins': 'DenyAttach,NodeRestriction' } } })
})

test("status reads kind's labels: the load balancer is no node, a stopped node makes it partly running", async () => {
  assert.equal(parseContainers('web-control-plane\trunning\tcontrol-plane\nweb-worker\texited\tworker\n'), [
    { name: 'web-control-plane', running: true, role: 'control-plane' },
    { name: 'web-worker', running: false, role: 'worker' },
  ])
  const listing: Record<string, string> = {
    web: 'web-external-load-balancer\trunning\texternal-load-balancer\nweb-control-plane\trunning\tcontrol-plane\nweb-worker\trunning\tworker\n',
    half: 'half-control-plane\trunning\tcontrol-plane\nhalf-worker\texited\tworker\n',
    gone: '',
  }
  const io = recordingIO((argv) => listing[argv.find((arg) => arg.startsWith('label='))!.split('=')[2]!] ?? '')
  const statuses = await kind().status(['web', 'half', 'gone'], io)
  assert.equal(statuses.get('web'), { state: 'running', machines: ['web-control-plane', 'web-worker'], running: ['web-control-plane', 'web-worker'] })
  assert.equal(statuses.get('half')?.state, 'partly running')
  assert.equal(statuses.get('gone'), { state: 'gone', machines: [], running: [] })
  assert.ok(io.commands.every((command) => command.reads === true), 'listing only reads')
  assert.is(await kind().exists('gone', io), false)
  assert.is(await kind().exists('web', io), true)
  assert.equal(await kind().clusters(recordingIO(() => 'alpha\nweb\n')), ['alpha', 'web'])
})

test('up in a dry run prints the config it would write and the create command; down deletes through kind, then the folder', async () => {
  const deployer = kind({ workers: 1, admissionPlugins: ['DenyAttach'], dir: '/k' })
  const io = recordingIO(() => '', true)
  await deployer.up({ name: 'web', image: { image: 'kspawn/kind-node:v1', tag: 'v1', controlPlane: 'x' } }, io)
  assert.equal(io.commands.map((command) => command.argv), [createArgv('web', 'kspawn/kind-node:v1', '/k/web/kind-config.yaml', '/k/web/kubeconfig', 300)])
  assert.match(io.infos.join('\n'), '/k/web/kind-config.yaml would hold:\nkind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n  - role: worker\n')
  assert.match(io.infos.join('\n'), 'enable-admission-plugins: DenyAttach')
  const down = recordingIO(() => '', true)
  await deployer.down('web', down)
  assert.equal(down.commands.map((command) => command.argv), [deleteArgv('web', '/k/web/kubeconfig'), ['rm', '-rf', '--', '/k/web']])
  assert.equal(deployer.downCommandLines('web', false), ['kind delete cluster --name web --kubeconfig /k/web/kubeconfig'])
})

test("a config names kind, as kind() or as plain data: defaults, kubeconfigs under the workdir, kind's rule on names", () => {
  const base = { kubernetes: { checkout: '/k' }, variants: { web: { image: 'r/kind-node:v1' } } }
  const loaded = parseConfig({ ...base, deployer: { kind: 'deployer', name: 'kind', options: {} } }, { plugins, file: '/p/kspawn.config.mjs' })
  assert.type(loaded.deployer.up, 'function')
  assert.equal(loaded.deployer.options, { workers: 1, controlPlanes: 1, admissionPlugins: [], waitSeconds: 300, readySeconds: 300, dir: '/p/.kspawn/kind' })
  assert.is(loaded.deployer.kubeconfig('web'), '/p/.kspawn/kind/web/kubeconfig')
  assert.is(loaded.variants[0]!.deployer, loaded.deployer)
  // Digits may end a kind cluster's name, which kube-spawn's rule refuses.
  assert.is(parseConfig({ ...base, variants: { web2: { image: 'r/kind-node:v1' } }, deployer: kind() }, { plugins, file: '/p/kspawn.config.ts' }).variants[0]!.cluster, 'web2')
  const long = 'x'.repeat(51)
  const problems = (input: unknown) => {
    try {
      parseConfig(input, { plugins, file: '/p/kspawn.config.ts' })
    } catch (error) {
      assert.instance(error, ConfigError)
      return (error as ConfigError).message.split('\n')
    }
    return assert.unreachable('accepted')
  }
  assert.equal(problems({ ...base, variants: { web: { image: 'r/i:v1', cluster: long } }, deployer: kind() }), [
    `/p/kspawn.config.ts: variants.web.cluster: expected a cluster name (a lowercase DNS label of at most 50 characters), found "${long}" (it is 51 characters long, more than 50: kind's node hostnames (${long}-control-plane) would pass 64 characters)`,
  ])
  assert.equal(problems({ ...base, deployer: kind({ workers: -1, admissionPlugins: ['deny attach'], config: { kind: 'Cluster' }, dir: 'kind', waitSecond: 3 } as never) }), [
    '/p/kspawn.config.ts: deployer.options.workers: expected a number of worker nodes from 0 to 20 (each is a container on this computer), found -1',
    '/p/kspawn.config.ts: deployer.options.admissionPlugins[0]: expected an admission plugin name, such as DenyAttach or NodeRestriction, found "deny attach"',
    '/p/kspawn.config.ts: deployer.options.config.kind: expected no kind: kspawn writes it (found "Cluster")',
    '/p/kspawn.config.ts: deployer.options.dir: expected an absolute path, found "kind"',
    '/p/kspawn.config.ts: deployer.options: expected only the fields workers, controlPlanes, admissionPlugins, config, waitSeconds, readySeconds, baseImage and dir, found unknown field "waitSecond" (did you mean "waitSeconds"?)',
  ])
})

test('doctor checks for kind and, for builds, make', () => {
  assert.equal(kindPlugin.doctor?.tools?.map((tool) => [tool.name, tool.forBuilds ?? false]), [['kind', false], ['make', true]])
})

test('how to enable an admission plugin, in the words of the kind deployer', () => {
  const where = { configFile: '/p/kspawn.config.ts', variant: 'modern' }
  assert.is(
    kind().enableAdmissionPlugin('DenyAttach', where),
    "enable it in /p/kspawn.config.ts: give variant modern's kind deployer admissionPlugins: ['DenyAttach'], e.g. kind({ admissionPlugins: ['DenyAttach'] }), then run it again (the cluster, made with other settings, is replaced)",
  )
  assert.match(kind({ admissionPlugins: ['AlwaysPullImages'] }).enableAdmissionPlugin('DenyAttach', where), /admissionPlugins: \['AlwaysPullImages', 'DenyAttach'\]/)
  assert.match(kind({ admissionPlugins: ['DenyAttach'] }).enableAdmissionPlugin('DenyAttach', where), /lists it in admissionPlugins, so the cluster was made before it did: make it again with --recreate$/)
})

test.run()
