// The config file's shape (UserConfig, what people write) and the loaded
// config (Config, what the rest of kspawn reads: absolute paths, defaults
// applied, one Variant per cluster). This module is imported by config files
// themselves, so it stays free of runtime dependencies.
import type { Deployer, PluginDefinition, Tester } from '../plugin.ts'

/** Where a patch comes from: a git remote and one branch, commit or tag on it. */
export type UserSource =
  | { remote: string; branch: string; commit?: never; tag?: never }
  | { remote: string; commit: string; branch?: never; tag?: never }
  | { remote: string; tag: string; branch?: never; commit?: never }

interface UserVariantCommon {
  /** The variant's cluster: a lowercase DNS label, and whatever its deployer adds (kube-spawn: not ending in a digit). Default: the variant name. */
  cluster?: string
  /** The deployer this variant's cluster runs on, instead of the config's. */
  deployer?: Deployer
  /** Smoke tests for this variant, replacing the top-level `smoke`. */
  smoke?: Tester[]
}

/** A variant that kspawn builds from source into the image its deployer runs. */
export interface UserBuildVariant extends UserVariantCommon {
  source: UserSource
  /** Tag of the image to build (for kube-spawn: `make -C cluster/images/hyperkube VERSION=<tag>`). */
  tag: string
  image?: never
}

/** A variant that runs an image someone else built; kspawn never builds it. */
export interface UserImageVariant extends UserVariantCommon {
  /** e.g. `docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix`, or pinned with `@sha256:<digest>`. */
  image: string
  /** Tag the image is known by locally and in the cluster. Default: the image's own tag. */
  tag?: string
  /** The patch the image was built from, for the record. */
  source?: UserSource
}

export type UserVariant = UserBuildVariant | UserImageVariant

export interface UserConfig {
  kubernetes: {
    /** Your Kubernetes checkout (`~` expands, relative to this file). kspawn never modifies it: it builds in worktrees of its own. */
    checkout: string
  }
  /** Where kspawn keeps worktrees, run logs and state, relative to this file. Default `.kspawn`. */
  workdir?: string
  /** The deployer of every variant that names none of its own. */
  deployer: Deployer
  /** Plugins of your own, besides those kspawn ships: their definitions (definePlugin from 'kspawn'). */
  plugins?: PluginDefinition[]
  /** The variants to run side by side, by name; each gets its own cluster. */
  variants: Record<string, UserVariant>
  /** Smoke tests for every variant that has no `smoke` of its own. */
  smoke?: Tester[]
  share?: {
    /** Where `share` pushes images, e.g. `docker.io/kinvolk`: the image becomes `<repository>/<the deployer's image name>:<tag>` (kube-spawn: hyperkube-amd64). */
    repository: string
  }
  /**
   * The build cache: builds are kept in the Docker engine by a key of their
   * tree's content, build flags and recipe, and reused by any later build of
   * the same content. With a registry, they are pushed there after a build
   * and pulled before one, so that a tree built on one machine is built
   * nowhere else. Credentials are Docker's (docker login).
   */
  cache?: {
    /** e.g. `registry.example.com/kspawn-cache`: entries are `<registry>/<image name>:<key>` (kube-spawn: hyperkube-amd64 and kube-binaries, kind: kind-node). */
    registry: string
  }
  github?: {
    /**
     * The API of your GitHub Enterprise server, e.g. `https://github.example.com/api/v3`, for `kspawn pr`:
     * URLs on its web host are asked there. github.com URLs always go to https://api.github.com.
     */
    api: string
  }
}

/** Gives a config file type checking and completion; returns the config unchanged. */
export function defineConfig(config: UserConfig): UserConfig {
  return config
}

export type GitRef =
  | { branch: string }
  /** `via`: a ref of the remote that leads to the commit (refs/heads/<branch>, refs/pull/<N>/head), fetched to get it; kspawn pr sets it. */
  | { commit: string; via?: string }
  | { tag: string }

export interface Source {
  /** A URL (`https://`, `ssh://`, `file://`), an scp-like `user@host:path`, or an absolute path. */
  remote: string
  ref: GitRef
  /** The name of the remote to add to the checkout when none has this URL; by default the URL's owner. */
  remoteName?: string
}

/** A parsed container image reference, `[registry/]repository[:tag][@digest]`. */
export interface ImageRef {
  /** The reference as written in the config. */
  ref: string
  /** e.g. `docker.io` or `127.0.0.1:5000`; absent when the reference names none (Docker Hub). */
  registry?: string
  /** e.g. `kinvolk/hyperkube-amd64`. */
  repository: string
  tag?: string
  /** e.g. `sha256:<64 hex digits>`. */
  digest?: string
}

interface VariantCommon {
  name: string
  cluster: string
  /** The deployer its cluster runs on: its own, or the config's. */
  deployer: Deployer
  /** The tag of the image the cluster runs. */
  tag: string
  smoke: Tester[]
}

export interface BuildVariant extends VariantCommon {
  /** The source kspawn builds. */
  build: Source
  image?: undefined
  source?: undefined
}

export interface ImageVariant extends VariantCommon {
  build?: undefined
  image: ImageRef
  /** Where the image's patch came from, when the config says. */
  source?: Source
}

export type Variant = BuildVariant | ImageVariant

export interface Config {
  /** Absolute path of the config file. */
  file: string
  kubernetes: { checkout: string }
  /** Absolute. */
  workdir: string
  /** The deployer of the variants that name none. */
  deployer: Deployer
  /** Every plugin the config could use: kspawn's and the config's own. */
  plugins: readonly PluginDefinition[]
  /** In the order the config lists them. */
  variants: Variant[]
  share?: { repository: string }
  cache?: { registry: string }
  github?: { api: string }
  /** The top-level smoke tests, for a variant that is not in the config (kspawn pr). */
  smoke?: Tester[]
}
