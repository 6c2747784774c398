// The package entry that config files and plugins import: `import { defineConfig } from 'kspawn'`.
// It must stay cheap to load, as every run of a config loads it.
export { defineConfig } from './engine/config/config.ts'
export type {
  BuildVariant,
  Config,
  GitRef,
  ImageRef,
  ImageVariant,
  Source,
  UserBuildVariant,
  UserConfig,
  UserImageVariant,
  UserSource,
  UserVariant,
  Variant,
} from './engine/config/config.ts'
// What a plugin of your own is made of (docs/plugins.md).
export { definePlugin, moduleNextTo } from './engine/plugin.ts'
export type {
  ClusterImage,
  ClusterNameRule,
  ClusterSpec,
  ClusterState,
  ClusterStatus,
  Deployer,
  DoctorNeeds,
  Plugin,
  PluginDefinition,
  SmokeTarget,
  StepIO,
  Tester,
  ToolNeed,
} from './engine/plugin.ts'
export { StepError } from './engine/errors.ts'
export type { Command, CommandResult } from './engine/runner/runner.ts'
export type { RunInfo, Services, SmokeResult, Task, TaskContext, VariantState } from './engine/run/task.ts'
export { openStep, type Step } from './engine/run/step-io.ts'
export type { AdmissionOperation, AdmissionTester } from './plugins/admission/index.ts'
export type { KubeSpawnDeployer, KubeSpawnOptions } from './plugins/kube-spawn/index.ts'
