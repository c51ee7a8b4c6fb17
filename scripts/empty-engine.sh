#!/usr/bin/env bash
# A second Docker engine that has nothing in it, beside the one that runs:
# its own data root, exec root, pidfile, socket and bridge, in a mount
# namespace of its own. For running the tests as on a new machine:
#
#   eval "$(sudo scripts/empty-engine.sh start /tmp/engine2)"   # prints export DOCKER_HOST=...
#   CI=true bash .ci/run
#   sudo scripts/empty-engine.sh stop /tmp/engine2                # the engine and everything in it go
set -euo pipefail
command="${1:-}"
dir="${2:-/tmp/claude-bottle-empty-engine}"
bridge="cb-empty0"

case "$command" in
start)
  if [ -e "$dir/docker.pid" ] && kill -0 "$(cat "$dir/docker.pid")" 2>/dev/null; then
    echo "An engine already runs from $dir; stop it first: $0 stop $dir" >&2
    exit 1
  fi
  mkdir -p "$dir"
  # A bridge and address pool of its own, away from the first engine's 172.17.0.0/16 and its pools.
  ip link show "$bridge" >/dev/null 2>&1 || {
    ip link add "$bridge" type bridge
    ip addr add 10.213.0.1/24 dev "$bridge"
    ip link set "$bridge" up
  }
  unshare --mount --propagation private -- dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
    -H "unix://$dir/docker.sock" --bridge "$bridge" \
    --default-address-pool base=10.214.0.0/16,size=24 >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! DOCKER_HOST="unix://$dir/docker.sock" docker info >/dev/null 2>&1; then
    echo "The second engine did not come up; its log:" >&2
    tail -n 30 "$dir/dockerd.log" >&2
    exit 1
  fi
  echo "export DOCKER_HOST=unix://$dir/docker.sock"
  ;;
stop)
  if [ -e "$dir/docker.pid" ]; then
    pid="$(cat "$dir/docker.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  ip link del "$bridge" 2>/dev/null || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop [DIR]" >&2
  exit 2
  ;;
esac
