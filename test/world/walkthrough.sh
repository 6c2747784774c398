#!/usr/bin/env bash
# npm run walkthrough — the kube-spawn developer workflow article performed by
# hand in the test world, with the article's own commands. It exits 0 only when
# attach was denied with each variant's message. It is also the baseline that
# kspawn's own speed is compared with (bench/).
#
#   --keep          leave both clusters running at the end (as the article
#                   does); by default they are stopped and destroyed.
#   --from-source   build the fix branch here too instead of sharing it through
#                   the registry: the same work as `kspawn run dev-loop` with
#                   test/world/demo.config.ts, for the benchmark.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
env_file="${KSPAWN_WORLD_STATE:-$here/.state}/env.sh"
if [[ ! -f "$env_file" ]]; then
  echo "walkthrough: the test world is not up (no $env_file). Run: npm run world:up" >&2
  exit 2
fi
# shellcheck source=/dev/null
source "$env_file"

keep=false
from_source=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    --from-source) from_source=true ;;
    *) echo "walkthrough: unknown option $arg (known: --keep, --from-source)" >&2; exit 2 ;;
  esac
done

# The article runs kube-spawn with sudo -E; as root that is not needed.
sudo=()
[[ "$(id -u)" -ne 0 ]] && sudo=(sudo -E)

fork_url="$KSPAWN_WORLD_FORK"
registry="$KSPAWN_WORLD_REGISTRY"
work="$KSPAWN_WORLD_STATE/walkthrough"

# Print each command the way the article shows it, then run it.
run() {
  printf '\n$ %s\n' "$*"
  "$@"
}

# Each developer of the story has their own GOPATH: a fresh clone of upstream
# standing for $GOPATH/src/k8s.io/kubernetes, so the world's user checkout,
# which kspawn's tests keep an eye on, is left alone.
new_gopath() {
  local gopath="$work/$1"
  rm -rf "$gopath"
  git clone --quiet "$KSPAWN_WORLD_UPSTREAM" "$gopath/src/k8s.io/kubernetes"
  echo "$gopath"
}

clusters=()
cleanup() {
  $keep && return 0
  for cluster in "${clusters[@]}"; do
    "${sudo[@]}" kube-spawn -d "$KSPAWN_WORLD_KUBE_SPAWN_DIR" stop -c "$cluster" >/dev/null 2>&1 || true
    "${sudo[@]}" kube-spawn -d "$KSPAWN_WORLD_KUBE_SPAWN_DIR" destroy -c "$cluster" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

failures=0

# Deploy, then run the article's test: the pod must run, and attach must be
# denied with the expected message.
spawn_and_test() {
  local tag="$1" cluster="$2" expected="$3"
  clusters+=("$cluster")
  echo
  echo "## Deploying $tag on kube-spawn (cluster $cluster)"
  run "${sudo[@]}" kube-spawn -d "$KSPAWN_WORLD_KUBE_SPAWN_DIR" create --dev -t "$tag" -c "$cluster"
  run "${sudo[@]}" kube-spawn -d "$KSPAWN_WORLD_KUBE_SPAWN_DIR" start -c "$cluster"

  echo
  echo "## Testing the DenyAttach admission controller"
  run export KUBECONFIG="$KSPAWN_WORLD_KUBE_SPAWN_DIR/$cluster/kubeconfig"
  # "Once all nodes are ready": wait for them rather than polling by eye. kube-spawn
  # returns once kubeadm join is done; the node's kubelet registers a moment later.
  local waited=0
  until [[ $(kubectl get nodes -o name 2>/dev/null | wc -l) -ge 2 ]] || ((waited >= 120)); do
    sleep 1
    waited=$((waited + 1))
  done
  run kubectl wait --for=condition=Ready node --all --timeout=120s
  run kubectl get nodes
  run kubectl run mypod --image=busybox --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'
  run kubectl wait --for=condition=Ready pod/mypod --timeout=120s
  run kubectl get pod
  sleep 2
  printf '\n$ kubectl logs mypod | tail -2\n'
  kubectl logs mypod | tail -2

  printf '\n$ kubectl attach mypod\n'
  local output status=0
  output="$(timeout 20 kubectl attach mypod 2>&1)" || status=$?
  echo "$output"
  if [[ $status -ne 0 && "$output" == *"Error from server (Forbidden): pods \"mypod\" is forbidden: $expected"* ]]; then
    echo "walkthrough: $cluster: attach denied as expected"
  else
    echo "walkthrough: $cluster: expected attach to be denied with \"$expected\" (exit $status)" >&2
    failures=$((failures + 1))
  fi
}

echo "## Compiling locally"
gopath="$(new_gopath you)"
export GOPATH="$gopath"
run cd "$GOPATH/src/k8s.io/kubernetes"
if ! git remote | grep -q kinvolk; then
  run git remote add kinvolk "$fork_url"
fi
# The article's `git pull` would merge the patch into whatever branch is checked
# out; fetching and checking out the remote branch is what it means to do.
run git fetch kinvolk alban/v1.8.5-beta.0-denyattach
run git checkout --quiet kinvolk/alban/v1.8.5-beta.0-denyattach
run build/run.sh make
run make -C cluster/images/hyperkube VERSION=v1.8.5-beta.0-denyattach
printf '\n$ docker images | grep hyperkube-amd64\n'
docker images | grep hyperkube-amd64

spawn_and_test v1.8.5-beta.0-denyattach denyattach \
  'cannot attach to a container, rejected by admission controller'

if $from_source; then
  echo
  echo "## Compiling the fix locally too"
  run git fetch kinvolk alban/v1.8.5-beta.0-denyattachfix
  run git checkout --quiet kinvolk/alban/v1.8.5-beta.0-denyattachfix
  run build/run.sh make
  run make -C cluster/images/hyperkube VERSION=v1.8.5-beta.0-denyattachfix
else
  echo
  echo "## Sharing the hyperkube image (a second developer, with the fix)"
  (
    export GOPATH="$(new_gopath colleague)"
    cd "$GOPATH/src/k8s.io/kubernetes"
    run git fetch --quiet "$fork_url" alban/v1.8.5-beta.0-denyattachfix
    run git checkout --quiet FETCH_HEAD
    run build/run.sh make
    run make -C cluster/images/hyperkube VERSION=v1.8.5-beta.0-denyattachfix
    run docker tag gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-denyattachfix "$registry/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix"
    run docker push "$registry/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix"
    # Leave the engine as if the fix had been built on another machine.
    run docker rmi "$registry/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix" gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-denyattachfix
  )

  echo
  echo "## Using an external hyperkube image"
  run docker pull "$registry/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix"
  run docker tag "$registry/kinvolk/hyperkube-amd64:v1.8.5-beta.0-denyattachfix" gcr.io/google-containers/hyperkube-amd64:v1.8.5-beta.0-denyattachfix
fi

spawn_and_test v1.8.5-beta.0-denyattachfix denyattachfix \
  'cannot attach to a container, rejected by DenyAttach'

echo
echo "## Running several kube-spawn clusters in parallel"
for cluster in denyattach denyattachfix; do
  printf '\n$ KUBECONFIG=%s kubectl get pod\n' "$KSPAWN_WORLD_KUBE_SPAWN_DIR/$cluster/kubeconfig"
  KUBECONFIG="$KSPAWN_WORLD_KUBE_SPAWN_DIR/$cluster/kubeconfig" kubectl get pod
done
run machinectl list

echo
if [[ $failures -eq 0 ]]; then
  echo "walkthrough: both variants denied attach with their own message"
else
  echo "walkthrough: $failures variant(s) did not behave as the article says" >&2
  exit 1
fi
