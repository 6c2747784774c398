// Shared by the pipeline, run and CLI tests: a config of image variants in a
// temporary folder, fake tasks, and writers that capture what kspawn prints.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { Config, Variant } from '../../engine/config/config.ts'
import type { Services, Task, TaskContext } from '../../engine/run/task.ts'
import { builtinPlugins } from '../../plugins/index.ts'
import { kubeSpawn } from '../../plugins/kube-spawn/index.ts'

export function imageVariant(name: string): Variant {
  const tag = `v1.8.5-beta.0-${name}`
  return {
    name,
    cluster: name,
    deployer: kubeSpawn(),
    tag,
    smoke: [],
    image: { ref: `docker.io/kinvolk/hyperkube-amd64:${tag}`, registry: 'docker.io', repository: 'kinvolk/hyperkube-amd64', tag },
  }
}

export interface TempProject {
  dir: string
  config: Config
  cleanup(): Promise<void>
}

/** A folder with a config of image variants, as loadConfig would return it. */
export async function tempProject(variants = ['denyattach', 'denyattachfix']): Promise<TempProject> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kspawn-run-'))
  const config: Config = {
    file: path.join(dir, 'kspawn.config.mjs'),
    kubernetes: { checkout: path.join(dir, 'kubernetes') },
    workdir: path.join(dir, '.kspawn'),
    deployer: kubeSpawn(),
    variants: variants.map(imageVariant),
    plugins: builtinPlugins,
  }
  return { dir, config, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** The same config as a file that loadConfig reads. */
export async function writeConfigFile(dir: string, variants = ['denyattach', 'denyattachfix']): Promise<string> {
  const file = path.join(dir, 'kspawn.config.mjs')
  const entries = variants.map((name) => `    ${name}: { image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-${name}' },`)
  await writeFile(
    file,
    [
      'export default {',
      `  kubernetes: { checkout: './kubernetes' },`,
      `  deployer: { kind: 'deployer', name: 'kube-spawn', options: { nodes: 2, dir: '/var/lib/kube-spawn', sudo: 'auto' } },`,
      '  variants: {',
      ...entries,
      '  },',
      '}',
      '',
    ].join('\n'),
  )
  return file
}

export interface FakeTaskOptions {
  run?(ctx: TaskContext, services: Services): Promise<void>
  skip?: Task['skip']
  rollback?: Task['rollback']
}

export function fakeTask(id: string, options: FakeTaskOptions = {}): Task {
  return {
    id,
    description: `the fake ${id} task`,
    title: (ctx) => `${id[0]?.toUpperCase()}${id.slice(1)} ${ctx.variant.tag}`,
    run: options.run ?? (async () => {}),
    ...(options.skip ? { skip: options.skip } : {}),
    ...(options.rollback ? { rollback: options.rollback } : {}),
  }
}

/** A writer that keeps what is written, for the Output that kspawn prints to. */
export function capture(isTTY = false) {
  const chunks: string[] = []
  return {
    isTTY,
    write(text: string) {
      chunks.push(String(text))
      return true
    },
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n'),
  }
}
