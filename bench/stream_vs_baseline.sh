#!/usr/bin/env bash
# bench/stream_vs_baseline.sh: tiermem's layer streaming (bench/stream_bench: prefetch layer i+1
# into dram, pin layer i, sum it) against what a user writes by hand (bench/stream_baseline:
# io_uring + O_DIRECT double buffering into MADV_HUGEPAGE buffers, buffered pread, mmap +
# MADV_WILLNEED; its banner says exactly what each does), on the same directory: LAYERS layers
# of LAYER_BYTES read PASSES times over, every byte summed as 64-bit words by every tool (the
# checksums must agree: the data file written once here holds layer i filled with byte i, as
# stream_bench's own tensors do). ROUNDS rounds of direct, pread, mmap, tiermem in turn; the
# page cache is dropped before each run, so the buffered variants read from the disk.
# Each run goes into one memory cgroup (v1, /sys/fs/cgroup/memory) limited to BUDGET + HEADROOM,
# the same for every tool; tiermem's dram.capacity is BUDGET (its dram tier is allocated in full
# at pool start, so the headroom holds the rest of its process); the pread and mmap variants get
# the whole limit as page cache. Without a usable cgroup (not root, no v1 memory controller)
# the script says so and runs without a limit. stream_bench's write of its tensors into the
# pool's files is not timed; only the streaming loops are.
# Prints per-round GB/s (1e9 bytes per second) and peak cgroup memory, the medians per tool,
# and the medians of the per-round ratios tiermem/direct, tiermem/pread, tiermem/mmap (GB/s
# ratios: >1 means tiermem is faster), and the dram tier's huge-page line from tiermem's log.
# --fio adds fio's sequential read of the same file, PASSES times (O_DIRECT, 1 MiB blocks,
# QD 32 per job, io_uring, huge-page buffers: the script reserves 40 hugetlb pages while fio
# runs, and only then, so that tiermem's tier gets what a stock machine gives), the better of 1 job
# and 2 jobs (each reading half; tiermem reads with 2 rings), as the disk's ceiling: fio's rate
# over a variant's is what a tool at the disk's speed would beat that variant by.
# Use a directory on the disk, not a tmpfs; it needs about twice LAYERS x LAYER_BYTES free.
# Sizes: bytes with an optional K/KiB, M/MiB, G/GiB (powers of 1024).
# usage: bench/stream_vs_baseline.sh DIR [--layers N] [--layer-bytes SIZE] [--passes P]
#                                    [--rounds N] [--budget SIZE] [--headroom SIZE] [--bin DIR]
#                                    [--fio]
# Defaults: 64 layers of 128MiB (8 GiB), 2 passes, 3 rounds, budget 2GiB, headroom 64MiB,
# --bin build/release/bin (where stream_bench and stream_baseline are).
set -euo pipefail

usage() {
  echo "usage: bench/stream_vs_baseline.sh DIR [--layers N] [--layer-bytes SIZE] [--passes P]" >&2
  echo "         [--rounds N] [--budget SIZE] [--headroom SIZE] [--bin DIR] [--fio]" >&2
  exit 2
}
die() { echo "stream_vs_baseline.sh: $*" >&2; exit 2; }

# A size in bytes: digits with an optional unit.
to_bytes() {
  local text=$1 unit shift
  [[ $text =~ ^([0-9]+)([A-Za-z]*)$ ]] || die "'$text' is not a size"
  unit=${BASH_REMATCH[2],,}
  case $unit in
    "" | b) shift=0 ;;
    k | kib) shift=10 ;;
    m | mib) shift=20 ;;
    g | gib) shift=30 ;;
    *) die "'$text': unknown unit" ;;
  esac
  echo $((10#${BASH_REMATCH[1]} << shift))
}
count() {
  if [[ ! $1 =~ ^[0-9]+$ ]] || ((10#$1 == 0)); then die "'$1' is not a positive count"; fi
  echo $((10#$1))
}

(($#)) || usage
dir=$1
shift
[[ $dir != -* ]] || usage
layers=64
layer_bytes=$((128 << 20))
passes=2
rounds=3
budget=$((2 << 30))
headroom=$((64 << 20))
bin=build/release/bin
with_fio=0
while (($#)); do
  if [[ $1 == --fio ]]; then with_fio=1; shift; continue; fi
  (($# >= 2)) || { echo "stream_vs_baseline.sh: option $1 needs a value" >&2; usage; }
  case $1 in
    --layers) layers=$(count "$2") ;;
    --layer-bytes) layer_bytes=$(to_bytes "$2") ;;
    --passes) passes=$(count "$2") ;;
    --rounds) rounds=$(count "$2") ;;
    --budget) budget=$(to_bytes "$2") ;;
    --headroom) headroom=$(to_bytes "$2") ;;
    --bin) bin=$2 ;;
    *) echo "stream_vs_baseline.sh: unknown option $1" >&2; usage ;;
  esac
  shift 2
done
page=$((2 << 20))
((layer_bytes > 0 && layer_bytes % 4096 == 0)) || die "--layer-bytes must be a positive multiple of 4KiB"
((budget > 0 && budget % page == 0)) || die "--budget must be a positive multiple of 2MiB (tiermem's page)"
[[ -d $dir ]] || die "$dir is not a directory"
for tool in "$bin/stream_bench" "$bin/stream_baseline"; do
  [[ -x $tool ]] || die "$tool not found (build the stream_bench and stream_baseline targets)"
done
if ((with_fio)); then
  command -v fio >/dev/null || die "--fio: fio not found"
  ((EUID == 0)) || die "--fio needs root (it reserves hugetlb pages for fio's buffers)"
fi

work=$(mktemp -d "$dir/tiermem-stream-bench.XXXXXX")
cgroup=""
cleanup() {
  if [[ -n $cgroup && -d $cgroup ]]; then
    # Whatever is left in it (nothing, normally) goes back to the root group first.
    while read -r pid; do echo "$pid" >/sys/fs/cgroup/memory/cgroup.procs || true; done \
      <"$cgroup/cgroup.procs"
    rmdir "$cgroup" || echo "stream_vs_baseline.sh: cannot remove $cgroup" >&2
  fi
  rm -rf "$work"
  if ((with_fio)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
}
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
trap cleanup EXIT

limit=$((budget + headroom))
if ((EUID == 0)) && [[ -w /sys/fs/cgroup/memory/cgroup.procs ]] &&
  mkdir "/sys/fs/cgroup/memory/tiermem-stream-bench.$$" 2>/dev/null; then
  cgroup=/sys/fs/cgroup/memory/tiermem-stream-bench.$$
  echo "$limit" >"$cgroup/memory.limit_in_bytes"
  cgroup_note="memory cgroup $cgroup, limit $((limit >> 20)) MiB (budget $((budget >> 20)) + headroom $((headroom >> 20)))"
else
  cgroup_note="NO memory cgroup (needs root and the cgroup v1 memory controller at /sys/fs/cgroup/memory): runs are not limited to the budget"
  echo "stream_vs_baseline.sh: warning: $cgroup_note" >&2
fi
can_drop=0
if ((EUID == 0)); then can_drop=1; else
  echo "stream_vs_baseline.sh: warning: not root, cannot drop the page cache between runs" >&2
fi

data=$work/layers.bin
total=$((layers * layer_bytes))
pages_per_layer=$(((layer_bytes + page - 1) / page))
# The config's directory as a JSON string.
json_dir=${work//\\/\\\\}
json_dir=${json_dir//\"/\\\"}
cat >"$work/pool.json" <<EOF
{"dram.capacity": "$budget", "nvme.dirs": ["$json_dir"],
 "nvme.capacity": "$((layers * pages_per_layer * page))", "log_level": "info"}
EOF

echo "dir $work; $layers layers of $((layer_bytes >> 20)) MiB ($((total >> 20)) MiB), $passes passes, $rounds rounds; $cgroup_note"
echo "$(nproc) CPUs; kernel $(uname -r); THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled); shmem: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled); nr_hugepages $(cat /proc/sys/vm/nr_hugepages)"
"$bin/stream_baseline" --create --file "$data" --layers "$layers" --layer-bytes "$layer_bytes"

# Runs a command inside the cgroup (when there is one) after dropping the page cache; its
# stdout goes to $work/out, its stderr to $work/err; echoes the cgroup's peak memory in MiB.
run() {
  sync
  if ((can_drop)); then echo 3 >/proc/sys/vm/drop_caches; fi
  local status=0
  if [[ -n $cgroup ]]; then
    echo 0 >"$cgroup/memory.max_usage_in_bytes"
    sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cgroup" "$@" \
      >"$work/out" 2>"$work/err" || status=$?
  else
    "$@" >"$work/out" 2>"$work/err" || status=$?
  fi
  if ((status != 0)); then
    echo "stream_vs_baseline.sh: $(basename "$1") failed (exit $status):" >&2
    cat "$work/err" >&2
    if [[ -n $cgroup ]]; then grep -H . "$cgroup/memory.oom_control" "$cgroup/memory.failcnt" >&2 || true; fi
    exit 1
  fi
  if [[ -n $cgroup ]]; then
    peak=$(($(cat "$cgroup/memory.max_usage_in_bytes") >> 20))
  else
    peak=-
  fi
}
# A field of the JSON line in $work/out: a number, or a string without its quotes.
field() { sed -n "s/.*\"$1\": \"\{0,1\}\([^\",}]*\).*/\1/p" "$work/out"; }

variants=(direct pread mmap tiermem)
if ((with_fio)); then variants+=(fio); fi
declare -A gbps checksums
arena_line=""
for ((round = 1; round <= rounds; ++round)); do
  line="round $round:"
  for variant in "${variants[@]}"; do
    if [[ $variant == fio ]]; then
      rate=0
      echo $((old_hugepages + 40)) >/proc/sys/vm/nr_hugepages  # only while fio runs
      for jobs in 1 2; do
        run fio --name=ceiling --filename="$data" --numjobs="$jobs" --size=$((total / jobs)) \
          --offset_increment=$((total / jobs)) --loops="$passes" --rw=read --bs=1m \
          --iodepth=32 --ioengine=io_uring --direct=1 --mem=mmaphuge --group_reporting \
          --output-format=json
        rate=$(python3 -c 'import json, sys; print("%.4f" % max(float(sys.argv[1]), json.load(sys.stdin)["jobs"][0]["read"]["bw_bytes"] / 1e9))' "$rate" <"$work/out")
      done
      echo "$old_hugepages" >/proc/sys/vm/nr_hugepages
      gbps[$variant]+="$rate "
      line+=" fio $rate GB/s"
      continue
    elif [[ $variant == tiermem ]]; then
      run "$bin/stream_bench" "$work/pool.json" "$layers" "$layer_bytes" "$passes" --checksum
      seconds=$(field seconds)
      bytes=$(field bytes)
      rate=$(awk -v b="$bytes" -v s="$seconds" 'BEGIN { printf "%.4f", b / s / 1e9 }')
      [[ -n $arena_line ]] || arena_line=$(grep -E '\] dram: ' "$work/err" || true)
    else
      run "$bin/stream_baseline" --variant "$variant" --file "$data" --layers "$layers" \
        --layer-bytes "$layer_bytes" --passes "$passes"
      rate=$(field gbps)
      if [[ $variant == direct ]]; then huge=$(($(field anon_huge_bytes) >> 20)); fi
    fi
    gbps[$variant]+="$rate "
    checksums[$(field checksum)]=1
    line+=" $variant $rate GB/s (peak ${peak} MiB)"
  done
  echo "$line"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "medians (GB/s):"
for variant in "${variants[@]}"; do
  echo "  $variant $(median <<<"${gbps[$variant]}")"
done
# ratio_line TOP BOTTOM: the median of the per-round ratios TOP/BOTTOM, and the rounds'.
ratio_line() {
  local -a top bottom
  local ratios="" i
  read -r -a top <<<"${gbps[$1]}"
  read -r -a bottom <<<"${gbps[$2]}"
  for ((i = 0; i < rounds; ++i)); do
    ratios+="$(awk -v t="${top[i]}" -v b="${bottom[i]}" 'BEGIN { printf "%.3f", t / b }') "
  done
  echo "  $1/$2 $(median <<<"$ratios") (rounds: ${ratios% })"
}
echo "medians of the per-round ratios (GB/s; >1: tiermem faster):"
for variant in direct pread mmap; do ratio_line tiermem "$variant"; done
if ((with_fio)); then
  echo "medians of the per-round ceilings (fio over the tool: what a tool at the disk's speed would reach):"
  for variant in direct pread mmap tiermem; do ratio_line fio "$variant"; done
fi
echo "direct's buffers: $huge MiB of AnonHugePages (of $((2 * layer_bytes >> 20)) MiB)"
echo "tiermem's dram tier:"
if [[ -n $arena_line ]]; then echo "$arena_line"; else echo "  (no dram line in the log of stream_bench)"; fi
if ((${#checksums[@]} != 1)); then
  echo "stream_vs_baseline.sh: the checksums differ: ${!checksums[*]}" >&2
  exit 1
fi
echo "checksums agree: ${!checksums[*]}"
