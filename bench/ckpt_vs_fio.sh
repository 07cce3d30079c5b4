#!/usr/bin/env bash
# bench/ckpt_vs_fio.sh: `tiermem ckpt bench`: a checkpoint save of SIZE bytes of a pool's
# tensors against fio's sequential write (O_DIRECT, 1 MiB, QD 32, io_uring, huge-page buffers)
# and a buffered write + fsync of each tensor, on the same directory, alternating, medians of
# the per-round ratios; and the save behind a compute step as long, with the share hidden.
# As root the script reserves vm.nr_hugepages for fio's --mem=mmaphuge and puts the old value
# back at the end. Use a directory on the disk, not a tmpfs.
# --no-checksums saves without xxh3 checksums, to see what hashing costs; --staging-buffers N
# sets how many 16 MiB staging buffers the save fills in turn (default 8).
# usage: bench/ckpt_vs_fio.sh [--dir DIR] [--size SIZE] [--rounds N] [--tiermem PATH]
#                             [--no-checksums] [--staging-buffers N]
set -euo pipefail
dir=/var/tmp
size=4GiB
rounds=3
tiermem=build/release/bin/tiermem
extra=()
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --tiermem) tiermem=$2; shift 2 ;;
    --no-checksums) extra+=(--no-checksums); shift ;;
    --staging-buffers) extra+=(--staging-buffers "$2"); shift 2 ;;
    *) echo "ckpt_vs_fio.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in fio "$tiermem"; do
  command -v "$tool" >/dev/null || { echo "ckpt_vs_fio.sh: $tool not found" >&2; exit 2; }
done
work=$(mktemp -d "$dir/tiermem-ckpt-bench.XXXXXX")
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  rm -rf "$work"
  if ((EUID == 0)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
}
trap cleanup EXIT
# fio maps iodepth x bs (32 MiB) plus a little: 20 huge pages of 2 MiB.
if ((EUID == 0)); then echo $((old_hugepages + 20)) >/proc/sys/vm/nr_hugepages; fi
echo "dir $work, $size, $rounds rounds${extra:+, ${extra[*]}}; fio $(fio --version); $(nproc) CPUs; kernel $(uname -r)"
"$tiermem" ckpt bench "$work" --size "$size" --rounds "$rounds" "${extra[@]}" --json
