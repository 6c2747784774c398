// The article's "Sharing the hyperkube image": the image half of the dev
// loop, then a push, so that others can run the patch without compiling it.
// No cluster is needed to share; the smoke test is the dev loop's business.
import { deployerSteps, type Workflow } from '../engine/run/task.ts'
import { fetchSource } from '../tasks/fetch-source.ts'
import { shareImage } from '../tasks/share-image.ts'

export const share: Workflow = {
  id: 'share',
  description: "fetch and make the image with the deployer's steps, then push it to share.repository and print its digest",
  tasks: [fetchSource, deployerSteps, shareImage],
}
