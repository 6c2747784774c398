// The fields of a kind deployer in a config, as kind() makes it or as plain
// data: loaded only when a config that uses kind is checked.
import { z } from '../../engine/config/zod.ts'
import { count, expected, isObject, object, text } from '../../engine/config/schema-kit.ts'
import { imageRefProblem } from '../../engine/config/validate.ts'

const admissionPlugin = /^[A-Z][A-Za-z0-9]*$/

// Every option may be left out: kind() gives the defaults, to a config written as plain data too.
export const schema = object('a kind deployer', {
  kind: z.literal('deployer'),
  name: z.literal('kind'),
  options: object('kind options', {
    workers: count('a number of worker nodes', 'nodes', 0, { most: 20, why: 'each is a container on this computer' }).optional(),
    controlPlanes: count('a number of control-plane nodes', 'nodes', 1, { most: 7, why: 'each is a container on this computer, and etcd wants an odd number' }).optional(),
    admissionPlugins: z.array(
      text('an admission plugin name, such as DenyAttach or NodeRestriction', (name) => (admissionPlugin.test(name) ? undefined : '')),
      { error: (issue) => expected('a list of admission plugin names', issue.input) },
    ).optional(),
    config: z
      .custom<Record<string, unknown>>((value) => isObject(value), { error: (issue) => expected('kind cluster config fields, such as { networking: { ipFamily: "ipv4" } }', issue.input) })
      .check(
        z.superRefine((value, ctx) => {
          // kspawn writes these itself: the config can add to the cluster, not make it another kind of file.
          for (const field of ['kind', 'apiVersion', 'name'] as const) {
            if (field in value) ctx.addIssue({ code: 'custom', path: [field], message: `expected no ${field}: kspawn writes it (found ${JSON.stringify(value[field])})` })
          }
        }),
      )
      .optional(),
    waitSeconds: count('a number of seconds', 'seconds', 1).optional(),
    readySeconds: count('a number of seconds', 'seconds', 1).optional(),
    baseImage: text('an image reference', (ref) => imageRefProblem(ref)).optional(),
    dir: text('an absolute path', (dir) => (dir.startsWith('/') ? undefined : '')).optional(),
  }),
})
