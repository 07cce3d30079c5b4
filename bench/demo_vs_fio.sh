#!/usr/bin/env bash
# bench/demo_vs_fio.sh: `tiermem demo` as a new user runs it (no arguments; only --json, and
# TMPDIR pointing at DIR, which is where a demo without --dir puts its NVMe tier) against fio's
# sequential read of a file on the same directory (O_DIRECT, 1 MiB blocks, QD 32, io_uring,
# huge-page buffers), alternating, ROUNDS rounds. The demo's disk rate is what it read from
# its NVMe tier (stats `moves.nvme_to_dram.bytes`) over its streaming seconds; its rate through
# pins (hits included) is printed beside it. Prints per-round GB/s (1e9 bytes per second), the
# medians, and the median of the per-round ratios demo/fio.
# As root the script reserves 20 hugetlb pages for fio's --mem=mmaphuge while fio runs, and
# only then, so that the demo gets what a stock machine gives it; otherwise fio reads into
# ordinary pages and the script says so.
# Use a directory on the disk, not a tmpfs.
# usage: bench/demo_vs_fio.sh [--dir DIR] [--rounds N] [--tiermem PATH]
set -euo pipefail
dir=${TMPDIR:-/tmp}
rounds=5
tiermem=build/release/bin/tiermem
die() { echo "demo_vs_fio.sh: $*" >&2; exit 2; }
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --tiermem) tiermem=$2; shift 2 ;;
    *) die "unknown option $1 (usage: bench/demo_vs_fio.sh [--dir DIR] [--rounds N] [--tiermem PATH])" ;;
  esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds '$rounds' is not a positive count"
for tool in fio "$tiermem" python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
work=$(mktemp -d "$dir/tiermem-demo-bench.XXXXXX")
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  rm -rf "$work"
  if ((EUID == 0)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
}
trap cleanup EXIT
fio_mem=mmaphuge
if ((EUID != 0)); then
  fio_mem=malloc
  echo "not root: fio reads into ordinary pages (--mem=malloc), which flatters the demo"
fi
echo "dir $work; $rounds rounds; $(fio --version); $(nproc) CPUs; kernel $(uname -r);" \
  "THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"

# One field of the JSON object on stdin, by a dotted path of keys.
field() {
  python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("/"):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)' "$1"
}

demo_rates=()
fio_rates=()
ratios=()
for ((round = 1; round <= rounds; ++round)); do
  demo_json=$(TMPDIR="$work" "$tiermem" demo --json | tail -n 1)
  read_bytes=$(field stats/moves.nvme_to_dram.bytes <<<"$demo_json")
  seconds=$(field stream_seconds <<<"$demo_json")
  pinned=$(python3 -c 'import sys; print(f"{float(sys.argv[1]):.4f}")' \
    "$(field stream_gbps <<<"$demo_json")")
  huge=$(field stats/dram.huge_pages <<<"$demo_json")
  demo=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / float(sys.argv[2]) / 1e9:.4f}")' \
    "$read_bytes" "$seconds")
  if ((EUID == 0)); then echo $((old_hugepages + 20)) >/proc/sys/vm/nr_hugepages; fi
  fio_json=$(fio --name=seqread --directory="$work" --filename=fio.data --size=1g --loops=3 \
    --rw=read --bs=1m --iodepth=32 --ioengine=io_uring --direct=1 --mem="$fio_mem" \
    --output-format=json)
  if ((EUID == 0)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
  fio_rate=$(python3 -c 'import sys; print(f"{int(sys.argv[1]) / 1e9:.4f}")' \
    "$(field jobs/0/read/bw_bytes <<<"$fio_json")")
  ratio=$(python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.3f}")' \
    "$demo" "$fio_rate")
  echo "round $round: demo $demo GB/s from disk ($pinned GB/s through pins; dram huge pages:" \
    "$huge) fio $fio_rate GB/s; demo/fio $ratio"
  demo_rates+=("$demo")
  fio_rates+=("$fio_rate")
  ratios+=("$ratio")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "medians: demo $(median "${demo_rates[@]}") GB/s, fio $(median "${fio_rates[@]}") GB/s;" \
  "demo/fio $(median "${ratios[@]}") (rounds: ${ratios[*]})"
