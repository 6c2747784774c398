// The package entry that config files import: `import { defineConfig } from 'kspawn'`.
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
export type { ClusterSpec, Deployer, Plugin, SmokeTarget, StepIO, Tester } from './engine/plugin.ts'
export type { AdmissionOperation, AdmissionTester } from './plugins/admission/index.ts'
export type { KubeSpawnDeployer, KubeSpawnOptions } from './plugins/kube-spawn/index.ts'
