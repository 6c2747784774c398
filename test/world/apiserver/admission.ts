import { forbidden } from './errors.ts'
import type { AdmissionPlugin } from './types.ts'

// The admission plugins compiled into the cluster's hyperkube (from its build
// info). A plugin that denies "pods/attach" rejects every attach, whatever the
// pod, before the request reaches a kubelet: the DenyAttach of the article.

export function admitConnect(plugins: AdmissionPlugin[], resource: string, subresource: string, name: string): void {
  const what = `${resource}/${subresource}`
  const denying = plugins.find((p) => p.denies.includes(what))
  if (denying) throw forbidden(resource, name, denying.message)
}
