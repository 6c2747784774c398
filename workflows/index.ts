// What kspawn knows how to run: `kspawn run <workflow>` and `kspawn task <task>`.
import type { Task, Workflow } from '../engine/run/task.ts'
import { build } from '../tasks/build.ts'
import { clusterUp } from '../tasks/cluster-up.ts'
import { fetchSource } from '../tasks/fetch-source.ts'
import { image } from '../tasks/image.ts'
import { shareImage } from '../tasks/share-image.ts'
import { smokeTest } from '../tasks/smoke-test.ts'
import { useImage } from '../tasks/use-image.ts'
import { devLoop } from './dev-loop.ts'
import { share } from './share.ts'

export const workflows: Workflow[] = [devLoop, share]

export const tasks: Task[] = [fetchSource, build, image, useImage, clusterUp, smokeTest, shareImage]
