// The article's "Sharing the hyperkube image": the build half of the dev loop,
// then a push, so that others can run the patch without compiling it. No
// cluster is needed to share; the smoke test is the dev loop's business.
import type { Workflow } from '../engine/run/task.ts'
import { build } from '../tasks/build.ts'
import { fetchSource } from '../tasks/fetch-source.ts'
import { image } from '../tasks/image.ts'
import { shareImage } from '../tasks/share-image.ts'

export const share: Workflow = {
  id: 'share',
  description: 'fetch, build and make the hyperkube image, then push it to share.repository and print its digest',
  tasks: [fetchSource, build, image, shareImage],
}
