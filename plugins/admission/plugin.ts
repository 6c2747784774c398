// What kspawn knows of the admission tester without running it.
import { definePlugin, moduleNextTo } from '../../engine/plugin.ts'
import { admission, type AdmissionTester } from './index.ts'

export const admissionPlugin = definePlugin({
  kind: 'tester',
  name: 'admission',
  module: 'kspawn/plugins/admission',
  file: moduleNextTo(import.meta.url, 'index'),
  example: "admission.denies('attach')",
  schema: async () => (await import('./schema.ts')).schema,
  revive: (data) => {
    const tester = data as unknown as AdmissionTester
    if (tester.expect === 'allow') return admission.allows(tester.operation)
    return admission.denies(tester.operation, { ...(tester.message === undefined ? {} : { message: tester.message }), ...(tester.plugin === undefined ? {} : { plugin: tester.plugin }) })
  },
})
