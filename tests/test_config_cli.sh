#!/usr/bin/env bash
# tests/test_config_cli.sh TIERMEM: `tiermem config --set` refuses what a pool would refuse at
# start (issue 9), naming the key, the value and the limit, and prints a good configuration.
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

refused() {
  local setting=$1 expected=$2
  if "$tiermem" config --set "$setting" > /dev/null 2> "$dir/err.txt"; then
    fail "--set $setting was accepted"
  fi
  grep -qF -- "$expected" "$dir/err.txt" || fail "--set $setting: $(cat "$dir/err.txt")"
}
refused log_level=verbose "log_level 'verbose' is not one of trace, debug"
refused policy.eviction=nosuch "policy.eviction 'nosuch': unknown eviction policy 'nosuch' (known:"
refused policy.eviction=lru:x=1 "policy.eviction 'lru:x=1': policy 'lru' has no parameter 'x'"
refused policy.prefetch=sequential:depth=-1 \
  "policy.prefetch 'sequential:depth=-1': policy 'sequential': depth=-1 is not an integer in [1,"
refused dram.numa_node=99999 "dram.numa_node 99999"
refused dram.numa_node=-5 "dram.numa_node -5 is neither -1 (no binding) nor a node"

"$tiermem" config --set log_level=debug --set policy.prefetch=sequential:depth=4 \
  | grep -q '"policy.prefetch":"sequential:depth=4"' || fail "a good configuration was refused"
echo "ok"
