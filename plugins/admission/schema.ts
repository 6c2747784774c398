// The fields of an admission tester in a config, as admission.denies() or
// admission.allows() make it or as plain data.
import { z } from '../../engine/config/zod.ts'
import { expected, object } from '../../engine/config/schema-kit.ts'

export const schema = object('an admission tester', {
  kind: z.literal('tester'),
  name: z.literal('admission'),
  operation: z.enum(['attach'], { error: (issue) => expected('the operation "attach"', issue.input) }),
  expect: z.enum(['deny', 'allow'], { error: (issue) => expected('"deny" or "allow"', issue.input) }),
  message: z
    .custom<RegExp | string>((value) => value instanceof RegExp || (typeof value === 'string' && value !== ''), {
      error: (issue) => expected('a RegExp, or a string the error message contains', issue.input),
    })
    .optional(),
  plugin: z
    .string({ error: (issue) => expected('the name of an admission plugin, e.g. "DenyAttach"', issue.input) })
    .regex(/^[A-Za-z][A-Za-z0-9]*$/, { error: (issue) => expected('the name of an admission plugin, e.g. "DenyAttach"', issue.input) })
    .optional(),
})
