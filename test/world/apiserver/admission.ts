import { forbidden } from './errors.ts'
import type { AdmissionPlugin, BuildInfo } from './types.ts'

// The admission plugins compiled into the cluster's API server (from its build
// info). A plugin that denies "pods/attach" rejects every attach, whatever the
// pod, before the request reaches a kubelet: the DenyAttach of the article.

/**
 * The denying plugins the API server runs: those on by default, plus those
 * --enable-admission-plugins names, minus those --disable-admission-plugins
 * names, in chain order. Throws with kube-apiserver's own words when a flag
 * names a plugin the build does not register (a build that does not list its
 * registered plugins is not checked).
 */
export function enabledAdmissionPlugins(build: BuildInfo, enable: string[] = [], disable: string[] = []): AdmissionPlugin[] {
  const registered = build.registeredAdmissionPlugins
  if (registered) {
    const errors = [
      ...enable.filter((name) => !registered.includes(name)).map((name) => `enable-admission-plugins plugin "${name}" is unknown`),
      ...disable.filter((name) => !registered.includes(name)).map((name) => `disable-admission-plugins plugin "${name}" is unknown`),
    ]
    const both = [...new Set(enable.filter((name) => disable.includes(name)))].sort()
    if (both.length > 0) errors.push(`[${both.join(' ')}] in enable-admission-plugins and disable-admission-plugins overlapped`)
    // utilerrors.NewAggregate: one error as it is, several as [a, b].
    if (errors.length === 1) throw new Error(errors[0])
    if (errors.length > 1) throw new Error(`[${errors.join(', ')}]`)
  }
  const byDefault = build.admissionPlugins ?? []
  const denying = [...byDefault, ...(build.denyingAdmissionPlugins ?? []).filter((p) => !byDefault.some((d) => d.name === p.name))]
  const on = denying.filter((p) => (byDefault.some((d) => d.name === p.name) || enable.includes(p.name)) && !disable.includes(p.name))
  const order = registered ?? denying.map((p) => p.name)
  return on.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name))
}

export function admitConnect(plugins: AdmissionPlugin[], resource: string, subresource: string, name: string): void {
  const what = `${resource}/${subresource}`
  const denying = plugins.find((p) => p.denies.includes(what))
  if (denying) throw forbidden(resource, name, denying.message)
}
