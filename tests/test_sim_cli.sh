#!/usr/bin/env bash
# tests/test_sim_cli.sh TIERMEM: end-to-end checks of `tiermem trace` and `tiermem sim`:
# byte-identical output for the same inputs, the binary and CSV forms replaying alike, the
# JSON last line, and clear errors for malformed traces.
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$tiermem" trace gen layers --model phi-3-mini --tokens 3 --prompt 32 --page-size 16MiB \
  -o "$dir/l.bin" --schedule-out "$dir/s.bin" > /dev/null
"$tiermem" trace convert "$dir/l.bin" "$dir/l.csv"
"$tiermem" trace convert "$dir/l.csv" "$dir/l2.bin" --page-size 16MiB

args=(--dram 40% --gpu 5% --eviction lru --eviction s3fifo --eviction belady
      --prefetch schedule --schedule "$dir/s.bin" --sweep 3 --json)
"$tiermem" sim "$dir/l.bin" "${args[@]}" > "$dir/a.txt"
"$tiermem" sim "$dir/l.bin" "${args[@]}" > "$dir/b.txt"
cmp "$dir/a.txt" "$dir/b.txt" || fail "two runs of tiermem sim differ"
"$tiermem" sim "$dir/l2.bin" "${args[@]}" | tail -1 > "$dir/c.json"
tail -1 "$dir/a.txt" | cmp - "$dir/c.json" || fail "binary and CSV-converted traces replay differently"
"$tiermem" sim "$dir/l.csv" --page-size 16MiB "${args[@]}" | tail -1 | cmp - "$dir/c.json" \
  || fail "the CSV trace replays differently"
for key in accesses hits misses bytes_read bytes_written stall_ns accesses_per_sec runs; do
  grep -q "\"$key\":" "$dir/c.json" || fail "JSON lacks $key"
done

"$tiermem" sim --list | grep -q "s3fifo" || fail "--list lacks s3fifo"
"$tiermem" sim "$dir/l.bin" --csv --no-belady | head -1 | grep -q "^dram_bytes,gpu_bytes,eviction" \
  || fail "CSV header"

printf 'tensor,page,op\n0,0,r\n0,1,q\n' > "$dir/bad.csv"
if "$tiermem" sim "$dir/bad.csv" 2> "$dir/err.txt"; then fail "a bad op was accepted"; fi
grep -q "line 3: unknown op 'q'" "$dir/err.txt" || fail "bad op error: $(cat "$dir/err.txt")"
head -c 100 "$dir/l.bin" > "$dir/cut.bin"
if "$tiermem" trace info "$dir/cut.bin" 2> "$dir/err.txt"; then fail "a truncated trace was accepted"; fi
grep -q "offset 88: truncated" "$dir/err.txt" || fail "truncation error: $(cat "$dir/err.txt")"
if "$tiermem" sim "$dir/l.bin" --eviction mru 2> "$dir/err.txt"; then fail "mru was accepted"; fi
grep -q "unknown eviction policy 'mru'" "$dir/err.txt" || fail "policy error"
# --plot: names from the command line never become gnuplot code (issue 9).
if command -v gnuplot > /dev/null; then
  evil="x'; system 'touch PWNED'; \"q\\ \\\" \$(touch PWNED2) \`touch PWNED3\`
system 'touch PWNED4'
"
  mkdir "$dir/plot"
  cp "$dir/l.bin" "$dir/plot/$evil.bin"
  (cd "$dir/plot" && "$tiermem" sim "$evil.bin" --eviction lru --eviction 's3fifo:small=0.2' \
    --sweep 2 --plot "$evil.png" > /dev/null) || fail "--plot with an odd name failed"
  [ -z "$(find "$dir" -name 'PWNED*')" ] || fail "--plot ran a command from a file name"
  head -c 8 "$dir/plot/$evil.png" | od -An -c | grep -q "P   N   G" || fail "--plot drew no PNG"
else
  echo "skip: --plot (gnuplot is not installed)"
fi
echo "ok"
