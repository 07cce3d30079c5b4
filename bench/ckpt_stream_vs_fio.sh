#!/usr/bin/env bash
# bench/ckpt_stream_vs_fio.sh: `tiermem ckpt stream`: a checkpoint of SIZE bytes (TENSORS
# layers) opened in place and streamed layer by layer through a dram tier a quarter of its
# size, the next layers prefetched, against fio's sequential read of the same file (O_DIRECT,
# 1 MiB, QD 32, io_uring, huge-page buffers), alternating; medians of the per-round ratios.
# As root the script reserves vm.nr_hugepages for the pool's dram tier and fio's buffers and
# puts the old value back at the end. Use a directory on the disk, not a tmpfs.
# usage: bench/ckpt_stream_vs_fio.sh [--dir DIR] [--size SIZE] [--tensors N] [--rounds N]
#                                    [--tiermem PATH]
set -euo pipefail
dir=/var/tmp
size=4GiB
tensors=32
rounds=5
tiermem=build/release/bin/tiermem
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --tensors) tensors=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --tiermem) tiermem=$2; shift 2 ;;
    *) echo "ckpt_stream_vs_fio.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in fio "$tiermem"; do
  command -v "$tool" >/dev/null || { echo "ckpt_stream_vs_fio.sh: $tool not found" >&2; exit 2; }
done
work=$(mktemp -d "$dir/tiermem-ckpt-stream.XXXXXX")
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  rm -rf "$work"
  if ((EUID == 0)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
}
trap cleanup EXIT
"$tiermem" ckpt demo "$work" --size "$size" --tensors "$tensors" >/dev/null
# The dram tier (a quarter of the data, in 2 MiB pages, and two more) and fio's 32 MiB.
bytes=$(stat -c %s "$work/model.safetensors")
if ((EUID == 0)); then echo $((old_hugepages + bytes / 4 / 2097152 + 2 + 20)) >/proc/sys/vm/nr_hugepages; fi
echo "dir $work, $size in $tensors tensors, $rounds rounds; fio $(fio --version); $(nproc) CPUs;" \
  "kernel $(uname -r)"
"$tiermem" ckpt stream "$work/model.safetensors" --rounds "$rounds" --json
