#!/usr/bin/env bash
# bench/sim_agreement.sh [TIERMEM]: the fast simulator against the pool on the virtual clock
# (`tiermem sim --model fast|pool`) on layer streaming and zipf traces, for LRU, FIFO, S3-FIFO
# and Belady at DRAM 25% and 50% of the footprint, then with sequential prefetch: misses,
# write-backs, prefetches, the stall ratio pool/fast and each model's wall time. See
# bench/RESULTS.md.
set -euo pipefail
tiermem=${1:-build/release/bin/tiermem}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$tiermem" trace gen layers --model opt-13b --tokens 4 --weight-tier dram -o "$dir/layers.bin" \
  > /dev/null
"$tiermem" trace gen zipf --pages 65536 --tensors 16 --events 1000000 --writes 0.2 \
  --compute-ns 20000 --page-size 64KiB -o "$dir/zipf.bin" > /dev/null

field() { grep -o "\"$1\":[0-9.e+-]*" "$2" | head -1 | cut -d: -f2; }
seconds() { local t0=$(date +%s.%N); "$@" > /dev/null; echo "$(date +%s.%N) - $t0" | bc; }

printf '%-7s %-8s %-5s %-19s %9s %9s %7s %7s %8s %8s %11s %7s %7s\n' trace eviction dram \
  prefetch misses_f misses_p wb_f wb_p pf_f pf_p stall_p/f fast_s pool_s
run() {  # TRACE EVICTION DRAM PREFETCH
  local args=("$dir/$1.bin" --eviction "$2" --dram "$3" --prefetch "$4" --no-belady --json)
  local tf tp
  tf=$(seconds "$tiermem" sim "${args[@]}" --model fast)
  tp=$(seconds "$tiermem" sim "${args[@]}" --model pool)
  "$tiermem" sim "${args[@]}" --model fast | tail -1 > "$dir/f.json"
  "$tiermem" sim "${args[@]}" --model pool | tail -1 > "$dir/p.json"
  printf '%-7s %-8s %-5s %-19s %9s %9s %7s %7s %8s %8s %11.6f %7.2f %7.2f\n' "$1" "$2" "$3" "$4" \
    "$(field misses "$dir/f.json")" "$(field misses "$dir/p.json")" \
    "$(field dram.writebacks "$dir/f.json")" "$(field dram.writebacks "$dir/p.json")" \
    "$(field prefetch.issued "$dir/f.json")" "$(field prefetch.issued "$dir/p.json")" \
    "$(echo "$(field stall_ns "$dir/p.json") / $(field stall_ns "$dir/f.json")" | bc -l)" \
    "$tf" "$tp"
}
for trace in layers zipf; do
  for dram in 25% 50%; do
    for eviction in lru fifo s3fifo belady; do run $trace $eviction $dram none; done
  done
  run $trace lru 25% sequential:depth=4
  run $trace s3fifo 25% sequential:depth=4
done
