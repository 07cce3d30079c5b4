#!/usr/bin/env bash
# tests/test_tune_cli.sh TIERMEM: `tiermem tune` with a --buffer smaller than its largest block
# grows the buffer to that block, as `tiermem io` does, instead of failing mid-sweep.
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The buffer is rounded up to 2 MiB huge pages: a 4 MiB block is the smallest that outgrows it.
"$tiermem" tune --dir "$dir" --size 8MiB --op read --blocks 1MiB,4MiB --qds 2 --threads 1 \
  --buffer 2MiB --engine psync --no-direct --budget 1 --json 2>/dev/null > "$dir/out.txt" \
  || fail "tune with --buffer 2MiB and a 4 MiB block failed"
tail -1 "$dir/out.txt" | grep -q '"block":4194304' || fail "the 4 MiB point is not in the results"
echo "test_tune_cli: ok"
