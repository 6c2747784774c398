// The article's loop, for every variant: fetch the patch, build it, make the
// hyperkube image (or, for a variant that names an image, pull it and tag it
// as a local build would be), spawn a cluster on it and smoke-test it.
import type { Workflow } from '../engine/run/task.ts'
import { build } from '../tasks/build.ts'
import { clusterUp } from '../tasks/cluster-up.ts'
import { fetchSource } from '../tasks/fetch-source.ts'
import { image } from '../tasks/image.ts'
import { smokeTest } from '../tasks/smoke-test.ts'
import { useImage } from '../tasks/use-image.ts'

export const devLoop: Workflow = {
  id: 'dev-loop',
  description: 'fetch, build, make the hyperkube image (or pull an external one), spawn a cluster and smoke-test it, for every variant',
  tasks: [fetchSource, build, image, useImage, clusterUp, smokeTest],
}
