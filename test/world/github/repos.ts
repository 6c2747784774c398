// The repositories the GitHub emulator serves in tests: copies of the world's
// bare repositories (the emulator writes refs/pull/N/head into base
// repositories, as GitHub does, and tests move branches), as GitHub would
// know them: kubernetes/kubernetes, the kinvolk/kubernetes fork, a fork that
// was deleted (gone/kubernetes) and a private repository (kinvolk/secret).
import { join } from 'node:path'
import { must, world } from '../harness.ts'
import type { RepoSpec } from './server.ts'

export interface WorldRepos {
  /** Copy of the upstream repository: kubernetes/kubernetes. */
  upstream: string
  /** Copy of the fork: kinvolk/kubernetes, and kinvolk/secret. */
  fork: string
  /** Another copy of the fork: gone/kubernetes, deleted. */
  gone: string
  repos: RepoSpec[]
}

/** Mirrors the world's repositories into `dir` and describes them for startGitHub(). */
export async function worldRepos(dir: string): Promise<WorldRepos> {
  const upstream = join(dir, 'kubernetes.git')
  const fork = join(dir, 'kinvolk-kubernetes.git')
  const gone = join(dir, 'gone-kubernetes.git')
  for (const [from, to] of [
    [world().KSPAWN_WORLD_UPSTREAM, upstream],
    [world().KSPAWN_WORLD_FORK, fork],
    [world().KSPAWN_WORLD_FORK, gone],
  ] as const) {
    await must(['git', 'clone', '--quiet', '--mirror', from, to])
  }
  return {
    upstream,
    fork,
    gone,
    repos: [
      { owner: 'kubernetes', name: 'kubernetes', path: upstream },
      { owner: 'kinvolk', name: 'kubernetes', path: fork, parent: 'kubernetes/kubernetes' },
      { owner: 'gone', name: 'kubernetes', path: gone, parent: 'kubernetes/kubernetes', deleted: true },
      { owner: 'kinvolk', name: 'secret', path: fork, private: true },
    ],
  }
}
