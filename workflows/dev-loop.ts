// The article's loop, for every variant: fetch the patch, make what its
// cluster runs with the steps of its deployer (kube-spawn: build/run.sh make
// and the hyperkube image, or pull an external image and tag it as a local
// build would be), spawn a cluster on it and smoke-test it.
import { deployerSteps, type Workflow } from '../engine/run/task.ts'
import { clusterUp } from '../tasks/cluster-up.ts'
import { fetchSource } from '../tasks/fetch-source.ts'
import { smokeTest } from '../tasks/smoke-test.ts'

export const devLoop: Workflow = {
  id: 'dev-loop',
  description: "fetch, make the image with the deployer's steps (kube-spawn: build and the hyperkube image, or pull an external one), spawn a cluster and smoke-test it, for every variant",
  tasks: [fetchSource, deployerSteps, clusterUp, smokeTest],
}
