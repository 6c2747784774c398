#!/usr/bin/env bash
# npm run walkthrough:kind — the DenyAttach loop of kind's time performed by
# hand in the test world, with the commands a developer types: fetch the fork's
# v1.36.1 branch, build a kind node image from it, make a kind cluster whose
# API server enables DenyAttach (compiled in, off by default), and run the
# article's test in it. It exits 0 only when attach was denied with the
# branch's message. It is also the baseline that kspawn's speed on kind is
# compared with (bench/dev-loop-kind.ts).
#
#   --keep   leave the cluster running at the end; by default it is deleted.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
env_file="${KSPAWN_WORLD_STATE:-$here/.state}/env.sh"
if [[ ! -f "$env_file" ]]; then
  echo "walkthrough:kind: the test world is not up (no $env_file). Run: npm run world:up" >&2
  exit 2
fi
# shellcheck source=/dev/null
source "$env_file"

keep=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    *) echo "walkthrough:kind: unknown option $arg (known: --keep)" >&2; exit 2 ;;
  esac
done

fork_url="$KSPAWN_WORLD_FORK"
branch=alban/v1.36.1-denyattach
image=kindest/node:v1.36.1-denyattach
cluster=denyattach
expected='cannot attach to a container, rejected by admission controller'
work="$KSPAWN_WORLD_STATE/walkthrough-kind"
kind_config="$work/kind-$cluster.yaml"
kubeconfig="$work/kubeconfig-$cluster"

# Print each command the way a person would type it (quoted where the shell
# needs it), then run it.
run() {
  local arg line=''
  for arg in "$@"; do
    [[ "$arg" =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]] || arg="'${arg//\'/\'\\\'\'}'"
    line+="${line:+ }$arg"
  done
  printf '\n$ %s\n' "$line"
  "$@"
}

# A cluster of that name made by someone else (npm run demo:kind --keep, say)
# is not ours to delete: stop before touching anything.
if grep -qx "$cluster" <<<"$(kind get clusters 2>/dev/null)"; then
  echo "walkthrough:kind: kind already has a cluster $cluster; remove it first (kind delete cluster --name $cluster, or kspawn down $cluster --config <its config>)" >&2
  exit 2
fi

created=false
cleanup() {
  $keep && return 0
  $created || return 0
  run kind delete cluster --name "$cluster" --kubeconfig "$kubeconfig" || true
}
trap cleanup EXIT

echo "## Fetching the patch"
# A developer's own clone of upstream, so that the world's user checkout,
# which kspawn's tests keep an eye on, is left alone.
rm -rf "$work"
mkdir -p "$work"
git clone --quiet "$KSPAWN_WORLD_UPSTREAM" "$work/go/src/k8s.io/kubernetes"
run cd "$work/go/src/k8s.io/kubernetes"
run git remote add kinvolk "$fork_url"
run git fetch kinvolk "$branch"
run git checkout --quiet "kinvolk/$branch"
run hack/print-workspace-status.sh

echo
echo "## Building a kind node image from the tree"
run kind build node-image "$PWD" --type source --image "$image"
printf '\n$ docker images %s\n' "$image"
docker images "$image"

echo
echo "## Creating a kind cluster whose API server enables DenyAttach"
# DenyAttach is compiled into the branch's kube-apiserver but not enabled by
# default: kubeadm passes it on through the ClusterConfiguration's extraArgs.
printf '\n$ cat > %s <<EOF\n' "$kind_config"
cat >"$kind_config" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
kubeadmConfigPatches:
- |
  kind: ClusterConfiguration
  apiServer:
    extraArgs:
      enable-admission-plugins: DenyAttach
EOF
cat "$kind_config"
echo EOF
created=true
run kind create cluster --name "$cluster" --image "$image" --config "$kind_config" --kubeconfig "$kubeconfig" --wait 300s

echo
echo "## Testing the DenyAttach admission controller"
run export KUBECONFIG="$kubeconfig"
# --wait covers the control plane; the worker's kubelet registers a moment
# after kubeadm join. Wait for both rather than polling by eye.
waited=0
until [[ $(kubectl get nodes -o name 2>/dev/null | wc -l) -ge 2 ]] || ((waited >= 120)); do
  sleep 1
  waited=$((waited + 1))
done
run kubectl wait --for=condition=Ready node --all --timeout=300s
run kubectl get nodes
run kubectl run mypod --image=busybox --command -- /bin/sh -c 'while true ; do sleep 1 ; date ; done'
run kubectl wait --for=condition=Ready pod/mypod --timeout=120s
run kubectl get pod
sleep 2
printf '\n$ kubectl logs mypod | tail -2\n'
kubectl logs mypod | tail -2

printf '\n$ kubectl attach mypod\n'
status=0
output="$(timeout 20 kubectl attach mypod 2>&1)" || status=$?
echo "$output"

echo
run kind get clusters
run kind get nodes --name "$cluster"

echo
if [[ $status -ne 0 && "$output" == *"Error from server (Forbidden): pods \"mypod\" is forbidden: $expected"* ]]; then
  echo "walkthrough:kind: attach denied with \"$expected\", as expected"
else
  echo "walkthrough:kind: expected attach to be denied with \"$expected\" (exit $status)" >&2
  exit 1
fi
