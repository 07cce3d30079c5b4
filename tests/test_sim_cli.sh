#!/usr/bin/env bash
# tests/test_sim_cli.sh TIERMEM: end-to-end checks of `tiermem trace` and `tiermem sim`:
# byte-identical output for the same inputs, the binary and CSV forms replaying alike, the
# JSON last line, model shape files and mixture-of-experts traces, libCacheSim's forms and
# zstd files, threaded sweeps equal to sequential ones, --timing and --progress, and clear
# errors for malformed traces and shapes.
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

# The pool replays the trace alike (issue 10; tests/test_sim_agreement.cpp compares figures).
for model in fast pool; do
  "$tiermem" sim "$dir/l.bin" --dram 40% --eviction s3fifo --model $model --json | tail -1 \
    | grep -o '"misses":[0-9]*' > "$dir/$model.misses"
done
cmp "$dir/fast.misses" "$dir/pool.misses" || fail "the fast model and the pool miss differently"
if "$tiermem" sim "$dir/l.bin" --model exact 2> "$dir/err.txt"; then fail "--model exact was accepted"; fi
grep -q "\-\-model 'exact' is not fast or pool" "$dir/err.txt" || fail "model error: $(cat "$dir/err.txt")"

# Model shape files and mixture-of-experts routing (issue 13).
shape='"layers": 4, "hidden": 512, "ffn": 1024, "heads": 8, "kv_heads": 8, "vocab": 1000,
  "mlp": "gated", "dtype": "bf16", "experts": 16, "shared_experts": 1, "expert_ffn": 256,
  "dense_layers": 1'
echo "{\"name\": \"tiny-moe\", $shape, \"experts_per_token\": 2}" > "$dir/moe.json"
"$tiermem" trace models "$dir/moe.json" | grep -q "^tiny-moe .* bf16  2 of 16$" \
  || fail "trace models FILE: $("$tiermem" trace models "$dir/moe.json")"
gen_moe() {
  "$tiermem" trace gen layers --model "$dir/moe.json" --tokens 30 --prompt 4 --page-size 64k \
    --skew 1.5 "$@" > /dev/null
}
gen_moe --seed 3 -o "$dir/m1.bin" --schedule-out "$dir/ms.bin"
gen_moe --seed 3 -o "$dir/m2.bin"
gen_moe --seed 4 -o "$dir/m3.bin"
cmp -s "$dir/m1.bin" "$dir/m2.bin" || fail "one seed gave two mixture-of-experts traces"
if cmp -s "$dir/m1.bin" "$dir/m3.bin"; then fail "two seeds gave one trace"; fi
"$tiermem" sim "$dir/m1.bin" --dram 25% --eviction lru --eviction belady --prefetch schedule \
  --schedule "$dir/ms.bin" --json | tail -1 | grep -q '"runs":' || fail "sim of a MoE trace"
echo "{$shape, \"experts_per_token\": 17}" > "$dir/bad.json"
if "$tiermem" trace gen layers --model "$dir/bad.json" -o "$dir/x.bin" 2> "$dir/err.txt"; then
  fail "17 of 16 experts were accepted"
fi
grep -qF "model shape $dir/bad.json: experts_per_token 17 is more than experts 16" "$dir/err.txt" \
  || fail "experts error: $(cat "$dir/err.txt")"
echo "{$shape, \"experts_per_token\": 2, \"hiden\": 512}" > "$dir/bad.json"
if "$tiermem" trace models "$dir/bad.json" 2> "$dir/err.txt"; then fail "a misspelt field was accepted"; fi
grep -qF "unknown field 'hiden' (known: name, layers, hidden" "$dir/err.txt" \
  || fail "misspelt field: $(cat "$dir/err.txt")"
if "$tiermem" trace gen layers --model "$dir/none.json" -o "$dir/x.bin" 2> "$dir/err.txt"; then
  fail "a missing shape file was accepted"
fi
grep -qF "cannot open $dir/none.json" "$dir/err.txt" || fail "missing file: $(cat "$dir/err.txt")"
if gen_moe --drift 3 -o "$dir/x.bin" 2> "$dir/err.txt"; then fail "--drift 3 was accepted"; fi
grep -qF "drift 3 in [0, 1]" "$dir/err.txt" || fail "drift error: $(cat "$dir/err.txt")"

# libCacheSim's forms and zstd, told apart by content (issue 13): an oracleGeneral export
# replays to the binary trace's misses, compressed or not, whatever the file is called.
"$tiermem" trace gen zipf --pages 3000 --events 40000 --page-size 64k -o "$dir/z.bin" > /dev/null
"$tiermem" trace convert "$dir/z.bin" "$dir/z.oracle" --to oracle
zargs=(--dram 30% --eviction lru --eviction belady --json)
"$tiermem" sim "$dir/z.bin" "${zargs[@]}" | tail -1 | grep -o '"misses":[0-9]*' > "$dir/z.misses"
"$tiermem" sim "$dir/z.oracle" --page-size 64k "${zargs[@]}" | tail -1 \
  | grep -o '"misses":[0-9]*' | cmp - "$dir/z.misses" || fail "oracleGeneral replays differently"
if command -v zstd > /dev/null; then
  zstd -q "$dir/z.oracle" -o "$dir/z.csv"
  "$tiermem" sim "$dir/z.csv" --page-size 64k "${zargs[@]}" > "$dir/zst.txt"
  grep -q "^trace .* (oracleGeneral, zstd-compressed): 40000 page accesses" "$dir/zst.txt" \
    || fail "zstd oracleGeneral: $(head -1 "$dir/zst.txt")"
  tail -1 "$dir/zst.txt" | grep -o '"misses":[0-9]*' | cmp - "$dir/z.misses" \
    || fail "zstd-compressed oracleGeneral replays differently"
  head -c 100 "$dir/z.csv" > "$dir/cut.zst"
  if "$tiermem" sim "$dir/cut.zst" 2> "$dir/err.txt"; then fail "a cut zstd file was accepted"; fi
  grep -q "truncated: the zstd stream ends inside a frame" "$dir/err.txt" \
    || fail "cut zstd: $(cat "$dir/err.txt")"
else
  echo "skip: zstd files (the zstd tool is not installed)"
fi
printf 'timestamp,obj_id,obj_size\n1,10,5000\n2,11,100\n3,10,5000\n' > "$dir/lcs.csv"
"$tiermem" sim "$dir/lcs.csv" --page-size 4k --dram 100% --json | tail -1 \
  | grep -q '"accesses":5,"hits":2,"misses":3' || fail "libCacheSim csv"
printf '10\n11\n10\n' > "$dir/lcs.txt"
"$tiermem" trace info "$dir/lcs.txt" | grep -q "^pages 2$" || fail "libCacheSim txt"
head -c 4000 /dev/urandom | tr '\000-\377' '\200-\377\000-\177' > "$dir/noise.bin"
printf '\001' | dd of="$dir/noise.bin" bs=1 seek=23 conv=notrunc 2> /dev/null
if "$tiermem" sim "$dir/noise.bin" 2> "$dir/err.txt"; then fail "noise was accepted"; fi
grep -q "not a form tiermem reads; expected tiermem binary (starts with TMTRACE1), zstd" \
  "$dir/err.txt" || fail "noise: $(cat "$dir/err.txt")"

# Threaded sweeps print what sequential ones do; --timing times the runs asked for (one
# figure each, not the baseline's); --progress writes only to stderr.
sweep=(--eviction lru --eviction s3fifo --eviction belady --sweep 3 --json)
"$tiermem" sim "$dir/z.bin" "${sweep[@]}" --jobs 1 > "$dir/seq.txt"
"$tiermem" sim "$dir/z.bin" "${sweep[@]}" --jobs 4 --progress > "$dir/par.txt" 2> "$dir/progress.txt"
cmp "$dir/seq.txt" "$dir/par.txt" || fail "--jobs 4 printed other results than --jobs 1"
"$tiermem" sim "$dir/z.bin" "${sweep[@]}" --timing | tail -1 > "$dir/timing.json"
# The first run's figures head the object, then all 9 in "runs".
[ "$(grep -o '"replay_accesses_per_sec":' "$dir/timing.json" | wc -l)" = 10 ] \
  || fail "--timing: $(cat "$dir/timing.json")"
if "$tiermem" sim "$dir/z.bin" --jobs 5000 2> "$dir/err.txt"; then fail "--jobs 5000 was accepted"; fi
grep -q "\-\-jobs 5000 is more than 1024 threads" "$dir/err.txt" || fail "jobs: $(cat "$dir/err.txt")"
# Streamed, Belady's next uses (8 bytes per page access) are still bounded by --memory-limit.
"$tiermem" trace gen zipf --pages 3000 --events 150000 --page-size 64k -o "$dir/z150k.bin" > /dev/null
if "$tiermem" sim "$dir/z150k.bin" --memory-limit 1MiB 2> "$dir/err.txt"; then
  fail "next uses beyond --memory-limit were accepted"
fi
grep -q "replaying 3000 pages and next uses of at least [0-9]* page accesses .* more than the memory limit of 1 MiB" \
  "$dir/err.txt" || fail "memory limit: $(cat "$dir/err.txt")"
"$tiermem" sim "$dir/z150k.bin" --memory-limit 1MiB --no-belady > /dev/null \
  || fail "without Belady the pages alone fit 1 MiB"

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
# Hostile binary traces (issue 9): tensor ids are labels, and sizes from the file do not decide
# how much memory is taken. le VALUE BYTES writes VALUE little-endian.
le() { for ((i = 0; i < $2; i++)); do printf "\\x$(printf %02x $(($1 >> 8 * i & 255)))"; done; }
record() { le 0 8; le "$1" 4; le "$2" 4; le "$3" 4; le "$4" 1; le 1 1; le 0 2; }  # id first count kind
header() { printf TMTRACE1; le 1 4; le 64 4; le 4096 8; le "$1" 8; le 24 4; le 0 28; }
{ header 2; record 4294967295 0 2 8; record 4294967295 1 1 0; } > "$dir/max-id.bin"
"$tiermem" trace info "$dir/max-id.bin" | grep -q "^accesses 1$" || fail "trace info of tensor id 2^32-1"
"$tiermem" trace convert "$dir/max-id.bin" "$dir/max-id.csv"
grep -q "^0,1,r,1,dram" "$dir/max-id.csv" || fail "trace convert of tensor id 2^32-1"
"$tiermem" sim "$dir/max-id.bin" --dram 1MiB > /dev/null || fail "sim of tensor id 2^32-1"
# Runs a command with 1 GiB of address space, so that a large allocation fails it; but under
# AddressSanitizer, which reserves terabytes of shadow address space at start, unlimited.
in_1gib() {
  if ldd "$tiermem" | grep -q libasan; then "$@"; else (ulimit -v 1048576 && "$@"); fi
}
{ header 2; record 4294967294 0 1 8; record 4294967293 0 1 0; } > "$dir/undeclared.bin"
if in_1gib "$tiermem" trace info "$dir/undeclared.bin" 2> "$dir/err.txt"; then
  fail "an undeclared tensor was accepted"
fi
grep -q "access to tensor 4294967293, which was not declared" "$dir/err.txt" \
  || fail "undeclared tensor: $(cat "$dir/err.txt")"
{ header 2; record 0 0 2147483648 8; record 0 7 1 0; } > "$dir/huge.bin"
in_1gib "$tiermem" trace info "$dir/huge.bin" | grep -q "^footprint_bytes 4096$" \
  || fail "trace info of a tensor of 2^31 pages"
if in_1gib "$tiermem" sim "$dir/huge.bin" --dram 1MiB 2> "$dir/err.txt"; then
  fail "a replay of 2^31 pages was accepted"
fi
grep -q "replaying 2147483648 pages .* more than the memory limit of 4096 MiB" "$dir/err.txt" \
  || fail "huge tensor: $(cat "$dir/err.txt")"

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
  # Without a baseline, bytes fetched are drawn in GiB (no Belady line of zeros).
  "$tiermem" sim "$dir/z.bin" --eviction lru --prefetch sequential --sweep 2 --no-belady \
    --plot "$dir/plot/nob.png" > /dev/null || fail "--plot --no-belady failed"
  [ -s "$dir/plot/nob.png" ] || fail "--plot --no-belady drew nothing"
else
  echo "skip: --plot (gnuplot is not installed)"
fi
echo "ok"
