#!/usr/bin/env bash
# tests/test_simulator_embed.sh SIMULATOR_EMBED: the example simulator (examples/
# simulator_embed.c) prints the same on every run, as a pool on a virtual clock promises, and
# its pool starts no thread: the last line is "threads 1".
set -euo pipefail
example=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$example" > "$dir/first.txt"
"$example" > "$dir/second.txt"
cat "$dir/first.txt"
diff "$dir/first.txt" "$dir/second.txt" || fail "two runs printed different results"
[[ $(tail -n 1 "$dir/first.txt") == "threads 1" ]] || fail "the last line is not 'threads 1'"
echo "ok"
