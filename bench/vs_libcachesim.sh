#!/usr/bin/env bash
# bench/vs_libcachesim.sh CACHESIM [TIERMEM]: tiermem's simulator against libCacheSim's
# `cachesim` (built from its source: cmake -DCMAKE_BUILD_TYPE=Release && make cachesim; needs
# Debian's libglib2.0-dev and libzstd-dev) on the same traces, exported to its oracleGeneral
# format, one object per page, object sizes ignored.
#   1. Miss counts per policy on the golden trace of tests/test_libcachesim_golden.cpp, at 256
#      and 1024 pages (10 000 requests: cachesim's 4-decimal miss ratio is then exact).
#   2. Replay speed, LRU, on a 10-million-request zipf trace: wall seconds of each tool
#      (median of 3), trace reading included.
# See bench/RESULTS.md.
set -euo pipefail
cachesim=$(realpath "$1")
tiermem=${2:-build/release/bin/tiermem}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$tiermem" trace gen zipf --pages 4096 --tensors 8 --events 10000 --page-size 64KiB --seed 3 \
  --alpha 0.8 -o "$dir/golden.bin" > /dev/null
"$tiermem" trace convert "$dir/golden.bin" "$dir/golden.oracle" --to oracle > /dev/null
# cachesim writes a result file into its working directory: the scratch one.
lcs_misses() {  # ALGO PAGES
  (cd "$dir" && "$cachesim" golden.oracle oracleGeneral "$1" "$2" --ignore-obj-size 1 2>&1) \
    | grep -o 'miss ratio [0-9.]*' | awk '{printf "%d", $3 * 10000 + 0.5}'
}
tm_misses() {  # POLICY PAGES
  "$tiermem" sim "$dir/golden.bin" --eviction "$1" --dram "$(($2 * 64))KiB" --no-belady --json \
    | tail -1 | grep -o '"misses":[0-9]*' | head -1 | cut -d: -f2
}
printf '%-9s %-9s %6s %12s %8s\n' libcachesim tiermem pages libcachesim tiermem
for pair in "LRU lru" "FIFO fifo" "Clock clock" "LFU lfu" "TwoQ 2q" "S3FIFO s3fifo" \
  "SIEVE sieve" "ARC arc" "LIRS lirs" "WTinyLFU wtinylfu"; do
  read -r lcs tm <<< "$pair"
  for pages in 256 1024; do
    printf '%-9s %-9s %6s %12s %8s\n' "$lcs" "$tm" "$pages" "$(lcs_misses "$lcs" "$pages")" \
      "$(tm_misses "$tm" "$pages")"
  done
done

"$tiermem" trace gen zipf --pages 1048576 --tensors 64 --events 10000000 --page-size 4KiB \
  --alpha 1 -o "$dir/big.bin" > /dev/null
"$tiermem" trace convert "$dir/big.bin" "$dir/big.oracle" --to oracle > /dev/null
seconds() { local t0; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; echo "$(date +%s.%N) - $t0" | bc; }
median() { sort -n | sed -n 2p; }
for round in 1 2 3; do
  seconds "$cachesim" "$dir/big.oracle" oracleGeneral LRU 131072 --ignore-obj-size 1 \
    --output "$dir/big" >> "$dir/lcs.t"
  seconds "$tiermem" sim "$dir/big.bin" --eviction lru --dram 512MiB --no-belady >> "$dir/tm.t"
done
echo "LRU, 10 M requests, 131072 pages: cachesim $(median < "$dir/lcs.t") s, tiermem sim" \
  "$(median < "$dir/tm.t") s (medians of 3)"
