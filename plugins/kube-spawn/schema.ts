// The fields of a kube-spawn deployer in a config, as kubeSpawn() makes it or
// as plain data: loaded only when a config that uses kube-spawn is checked.
import { z } from '../../engine/config/zod.ts'
import { count, expected, object, text } from '../../engine/config/schema-kit.ts'

export const schema = object('a kube-spawn deployer', {
  kind: z.literal('deployer'),
  name: z.literal('kube-spawn'),
  options: object('kube-spawn options', {
    nodes: count('a number of machines', 'machines', 1, { most: 20, why: 'each is a machine on this computer' }),
    dir: text('an absolute path', (dir) => (dir.startsWith('/') ? undefined : '')),
    sudo: z.union([z.literal('auto'), z.boolean()], { error: (issue) => expected('"auto", true or false', issue.input) }),
    // A config written as plain data may leave it out: kubeSpawn() gives the default.
    readySeconds: count('a number of seconds', 'seconds', 1).optional(),
  }),
})
