#!/usr/bin/env bash
# bench/persist_vs_fio.sh: bench/persist_bench.cpp (a persistent pool of PAGES 64 KiB pages
# opened again, verified, flushed after a 1% change; medians of RUNS) and, on the same data
# file, fio's sequential read of exactly the bytes verify() reads (each tensor's run of first
# slots: O_DIRECT, 1 MiB, QD 32, io_uring), one job per tensor run one after the other, the
# bandwidth over all of them; RUNS times, after the pool's runs. Use a directory on the disk, not a tmpfs; it needs 2 x PAGES x
# 64 KiB free.
# usage: bench/persist_vs_fio.sh [--dir DIR] [--pages N] [--tensors N] [--runs N] [--bench PATH]
set -euo pipefail
dir=/var/tmp
pages=100000
tensors=100
runs=3
bench=build/release/bin/persist_bench
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --pages) pages=$2; shift 2 ;;
    --tensors) tensors=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --bench) bench=$2; shift 2 ;;
    *) echo "persist_vs_fio.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in fio python3 "$bench"; do
  command -v "$tool" >/dev/null || { echo "persist_vs_fio.sh: $tool not found" >&2; exit 2; }
done
work=$(mktemp -d "$dir/tiermem-persist-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "dir $work ($(df --output=source,fstype "$dir" | tail -1)), $pages pages in $tensors" \
  "tensors, $runs runs; fio $(fio --version); $(nproc) CPUs; kernel $(uname -r); $(date -u)"
"$bench" "$work" "$pages" "$tensors" "$runs"

# Tensor t's pages take slots [2t, 2t+1) x per_tensor: its first slots come first, and the
# pages the runs did not rewrite are durable there.
per_tensor=$((pages / tensors))
jobs=()
for ((t = 0; t < tensors; t++)); do
  jobs+=(--name="t$t" --offset=$((2 * t * per_tensor * 65536)) --size=$((per_tensor * 65536))
    --stonewall)
done
for ((run = 0; run < runs; run++)); do
  sync
  if ((EUID == 0)); then echo 3 >/proc/sys/vm/drop_caches; fi
  fio --filename="$work/tiermem.0.data" --rw=read --bs=1M --iodepth=32 --direct=1 \
    --ioengine=io_uring --readonly --output-format=json "${jobs[@]}" |
    python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
read = sum(j["read"]["io_bytes"] for j in jobs)
seconds = sum(j["read"]["runtime"] for j in jobs) / 1000
print(json.dumps({"run": int(sys.argv[1]), "fio_read_bytes": read, "fio_read_s": round(seconds, 3),
                  "fio_read_gbps": round(read / seconds / 1e9, 3)}))' "$run"
done
