// The loop of the kube-spawn "Kubernetes development workflow example": build
// the DenyAttach admission controller from kinvolk's branch, run it next to
// the image with a clearer error message that someone else built and shared,
// and check in both clusters that attaching to a pod is denied.
import { defineConfig } from 'kspawn'
import { admission } from 'kspawn/plugins/admission'
import { kubeSpawn } from 'kspawn/plugins/kube-spawn'

export default defineConfig({
  kubernetes: { checkout: '~/go/src/k8s.io/kubernetes' },
  deployer: kubeSpawn({ nodes: 2 }),
  variants: {
    denyattach: {
      source: { remote: 'https://github.com/kinvolk/kubernetes', branch: 'alban/v1.8.5-beta.0-denyattach' },
      tag: 'v1.8.5-beta.0-denyattach',
    },
    denyattachfix: {
      image: 'docker.io/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix',
      source: { remote: 'https://github.com/kinvolk/kubernetes', commit: 'eb0c026372a67eb49bbf80aa619f10ee94527bac' },
      // The fix names the admission controller that rejected the request.
      smoke: [admission.denies('attach', { message: /rejected by DenyAttach$/ })],
    },
  },
  smoke: [admission.denies('attach', { message: 'cannot attach to a container, rejected by admission controller' })],
  share: { repository: 'docker.io/kinvolk' },
})
