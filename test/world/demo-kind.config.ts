// The modern DenyAttach loop on kind, pointed at the test world: the fork's
// v1.36.1 branch (MODERN_BRANCHES.denyattach in fixture/generate.ts) built
// from source into a kind node image, one kind cluster of it whose API server
// enables DenyAttach (compiled in, off by default), checked for its Forbidden
// message. `npm run demo:kind` runs it.
import { join } from 'node:path'
import { defineConfig } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kind } from 'kspawn/plugins/kind'

function worldVariable(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: source test/world/.state/env.sh (after npm run world:up)`)
  return value
}

export default defineConfig({
  kubernetes: { checkout: worldVariable('KSPAWN_WORLD_CHECKOUT') },
  workdir: join(worldVariable('KSPAWN_WORLD_STATE'), 'demo-kind'),
  deployer: kind({ admissionPlugins: ['DenyAttach'] }),
  variants: {
    denyattach: {
      source: { remote: worldVariable('KSPAWN_WORLD_FORK'), branch: 'alban/v1.36.1-denyattach' },
      tag: 'v1.36.1-denyattach',
      smoke: [admission.denies('attach', { message: 'cannot attach to a container, rejected by admission controller' })],
    },
  },
})
