#!/usr/bin/env bash
# tests/test_io_cli.sh TIERMEM: `tiermem io` leaves no file behind, even when it is killed
# mid-run (its scratch files are unnamed), and still reads and writes correctly.
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$tiermem" io --dir "$dir" --op write --size 8MiB --buffer 4MiB --engine psync --no-direct \
  --json > "$dir/../io-out.$$" 2>/dev/null || fail "a write run failed"
grep -q '"bytes":8388608' "$dir/../io-out.$$" || fail "the write run did not move 8 MiB"
rm -f "$dir/../io-out.$$"
[[ -z $(ls -A "$dir") ]] || fail "a finished run left $(ls -A "$dir")"

# Killed while writing: nothing may stay, neither under a predictable name nor another.
"$tiermem" io --dir "$dir" --op write --size 64MiB --buffer 4MiB --engine psync --no-direct \
  --time 30 > /dev/null 2>&1 &
pid=$!
sleep 1
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
[[ -z $(ls -A "$dir") ]] || fail "a killed run left $(ls -A "$dir")"
echo "test_io_cli: ok"
