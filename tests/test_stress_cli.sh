#!/usr/bin/env bash
# tests/test_stress_cli.sh TIERMEM: `tiermem stress` end to end: a short model-checked run on a
# live pool, on a virtual clock and on a persistent pool (reopened in the run, and killed in
# child processes: --crash), each reporting ok in its JSON last line, and the option
# combinations it must refuse.
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
small=(--dram 4MiB --gpu 1MiB --set page_size=64KiB --operations 400 --json)

"$tiermem" stress "${small[@]}" --threads 2 | tail -1 > "$dir/live.json"
grep -q '"ok":true' "$dir/live.json" || fail "a live stress run did not end ok"
"$tiermem" stress "${small[@]}" --virtual | tail -1 > "$dir/virtual.json"
grep -q '"ok":true' "$dir/virtual.json" || fail "a virtual stress run did not end ok"
grep -q '"threads":1' "$dir/virtual.json" || fail "a virtual run used more than one thread"
if "$tiermem" stress "${small[@]}" --virtual --faults eio=0.1 2> "$dir/err.txt"; then
  fail "--virtual with --faults was accepted"
fi
grep -q "I/O faults (--faults, io.faults) do not apply" "$dir/err.txt" \
  || fail "--virtual --faults error: $(cat "$dir/err.txt")"
"$tiermem" stress "${small[@]}" --threads 2 --persistent | tail -1 > "$dir/persistent.json"
grep -q '"ok":true' "$dir/persistent.json" || fail "a persistent stress run did not end ok"
"$tiermem" stress --dram 4MiB --gpu 0 --set page_size=64KiB --seconds 1 --threads 2 \
  --persistent --crash --json | tail -1 > "$dir/crash.json"
grep -q '"ok":true' "$dir/crash.json" || fail "a crash stress run did not end ok"
grep -q '"killed":[1-9]' "$dir/crash.json" || fail "no child of the crash run was killed"
if "$tiermem" stress "${small[@]}" --crash 2> "$dir/err.txt"; then
  fail "--crash without --persistent was accepted"
fi
grep -q -- "--crash needs --persistent" "$dir/err.txt" || fail "--crash error: $(cat "$dir/err.txt")"
