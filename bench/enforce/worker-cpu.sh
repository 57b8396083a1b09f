#!/usr/bin/env bash
# Runs bench/enforce/worker-cpu.ts in a network namespace of its own, removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
ns="kq-bench-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" npx tsx bench/enforce/worker-cpu.ts "$@"
