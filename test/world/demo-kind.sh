#!/usr/bin/env bash
# npm run demo:kind — bring the test world up and run the DenyAttach loop of
# kind's time with kspawn, the live pipeline on screen: the fork's v1.36.1
# branch built into a kind node image, a kind cluster of it whose API server
# enables DenyAttach, attach denied (test/world/demo-kind.config.ts). The
# cluster is removed at the end, with the kspawn down that kspawn prints,
# unless --keep is given.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

keep=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    *) echo "demo:kind: unknown option $arg (known: --keep)" >&2; exit 2 ;;
  esac
done

npm run --silent world:up
npm run --silent build
# shellcheck source=/dev/null
source "${KSPAWN_WORLD_STATE:-$repo/test/world/.state}/env.sh"

config=test/world/demo-kind.config.ts
kspawn=(node dist/bin/kspawn.js)
cleanup() {
  $keep && return 0
  echo
  echo "\$ kspawn down --all --config $config"
  "${kspawn[@]}" down --all --config "$config" || true
}
trap cleanup EXIT

status=0
"${kspawn[@]}" run dev-loop --config "$config" --recreate || status=$?
echo
echo "\$ kind get clusters"
kind get clusters
echo
echo "\$ docker ps --filter label=io.x-k8s.kind.cluster"
docker ps --filter label=io.x-k8s.kind.cluster --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Label "io.x-k8s.kind.role"}}'
exit "$status"
