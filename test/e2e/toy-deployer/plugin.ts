// The toy deployer's definition, as a config registers it: plugins: [toyPlugin].
import { definePlugin } from 'kspawn'
import { toy, type ToyOptions } from './index.ts'

export const toyPlugin = definePlugin({
  kind: 'deployer',
  name: 'toy',
  module: 'kspawn-toy',
  example: 'toy({ dir })',
  schema: async () => {
    const { z } = await import('zod')
    return z.object({
      kind: z.literal('deployer'),
      name: z.literal('toy'),
      options: z.strictObject({ dir: z.string().startsWith('/', { error: 'expected an absolute path' }) }),
    })
  },
  revive: (data) => toy(data.options as ToyOptions),
  doctor: { tools: [{ name: 'docker', purpose: 'to run the toy machines', install: (sudo) => `${sudo}apt-get install docker.io` }] },
  // Its machines are named toy-<cluster>, which Docker takes whatever the cluster name.
})
