// The plugins kspawn ships, one line each: the CLI hands this list to the
// engine, which knows no plugin by name. A plugin is a folder,
// plugins/<name>/, whose plugin.ts defines it (see docs/plugins.md).
import type { PluginDefinition } from '../engine/plugin.ts'
import { admissionPlugin } from './admission/plugin.ts'
import { kindPlugin } from './kind/plugin.ts'
import { kubeSpawnPlugin } from './kube-spawn/plugin.ts'

export const builtinPlugins: readonly PluginDefinition[] = [kubeSpawnPlugin, kindPlugin, admissionPlugin]
