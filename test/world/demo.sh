#!/usr/bin/env bash
# npm run demo — bring the test world up and run the article's DenyAttach loop
# in it with kspawn, the live pipeline on screen. The clusters are stopped and
# destroyed at the end unless --keep is given.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

npm run --silent world:up
npm run --silent build
# shellcheck source=/dev/null
source "${KSPAWN_WORLD_STATE:-$repo/test/world/.state}/env.sh"

keep=false
[[ "${1:-}" == "--keep" ]] && keep=true
cleanup() {
  $keep && return 0
  for cluster in denyattach denyattachfix; do
    kube-spawn -d "$KSPAWN_WORLD_KUBE_SPAWN_DIR" stop -c "$cluster" >/dev/null 2>&1 || true
    kube-spawn -d "$KSPAWN_WORLD_KUBE_SPAWN_DIR" destroy -c "$cluster" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT

status=0
node dist/bin/kspawn.js run dev-loop --config test/world/demo.config.ts --recreate || status=$?
echo
echo "\$ machinectl list"
machinectl list
exit "$status"
