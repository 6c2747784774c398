// The interfaces behind which backends plug in. A config holds plugin values
// returned by factories such as `kubeSpawn()`; each value names its kind and
// plugin, and carries its own settings. The behaviour (a deployer's up, down
// and status; a tester's run) joins these interfaces as methods, so the
// engine validates plugin values by their fields and keeps the object the
// factory returned.

export interface Plugin {
  readonly kind: string
  /** Which plugin made this value, e.g. `kube-spawn`; the config is validated against that plugin's fields. */
  readonly name: string
}

/** Creates, inspects and removes the clusters that variants run on. */
export interface Deployer extends Plugin {
  readonly kind: 'deployer'
  readonly options: object
}

/** A smoke test run against a variant's cluster once it is up. */
export interface Tester extends Plugin {
  readonly kind: 'tester'
}
