// What kspawn knows how to run: `kspawn run <workflow>` and `kspawn task <task>`.
// A deployer's own steps (kube-spawn: build, image, use-image) come with it.
import type { Task, Workflow } from '../engine/run/task.ts'
import { clusterUp } from '../tasks/cluster-up.ts'
import { fetchSource } from '../tasks/fetch-source.ts'
import { shareImage } from '../tasks/share-image.ts'
import { smokeTest } from '../tasks/smoke-test.ts'
import { devLoop } from './dev-loop.ts'
import { share } from './share.ts'

export const workflows: Workflow[] = [devLoop, share]

export const tasks: Task[] = [fetchSource, clusterUp, smokeTest, shareImage]
