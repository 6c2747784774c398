// The article's DenyAttach loop, pointed at the test world: the fork's two
// branches built from source, each in its own kube-spawn cluster, each
// checked for its own Forbidden message. `npm run demo` runs it.
import { join } from 'node:path'
import { defineConfig } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kubeSpawn } from 'kspawn/plugins/kube-spawn'

function worldVariable(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: source test/world/.state/env.sh (after npm run world:up)`)
  return value
}

const fork = worldVariable('KSPAWN_WORLD_FORK')

export default defineConfig({
  kubernetes: { checkout: worldVariable('KSPAWN_WORLD_CHECKOUT') },
  workdir: join(worldVariable('KSPAWN_WORLD_STATE'), 'demo'),
  deployer: kubeSpawn({ nodes: 2, dir: worldVariable('KSPAWN_WORLD_KUBE_SPAWN_DIR') }),
  variants: {
    denyattach: {
      source: { remote: fork, branch: 'alban/v1.8.5-beta.0-denyattach' },
      tag: 'v1.8.5-beta.0-denyattach',
      smoke: [admission.denies('attach', { message: 'cannot attach to a container, rejected by admission controller' })],
    },
    denyattachfix: {
      source: { remote: fork, branch: 'alban/v1.8.5-beta.0-denyattachfix' },
      tag: 'v1.8.5-beta.0-denyattachfix',
      smoke: [admission.denies('attach', { message: 'cannot attach to a container, rejected by DenyAttach' })],
    },
  },
})
