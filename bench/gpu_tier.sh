#!/usr/bin/env bash
# bench/gpu_tier.sh: the CUDA gpu tier's targets, measured as ratios in one run on a GPU
# machine (issue 5):
#   DRAM->GPU through pins and GPU->DRAM through evictions and pins against cudaMemcpyAsync of a
#   cudaHostAlloc buffer of the same size, alternating, median of the repetitions' ratios
#   (gpu_tier_bench copy);
#   NVMe->GPU streaming of a layer set larger than the DRAM tier against fio's sequential
#   read of a file of the same size in the same directory, in rounds of fio then tiermem, the
#   median of the rounds' ratios (gpu_tier_bench stream --only transfer);
#   the share of the transfer time hidden under a simulated compute step per layer 1.2 times
#   as long as that layer's transfer (gpu_tier_bench stream --compute 1.2);
#   GPU->DRAM->NVMe write-back of the whole set against fio's sequential write.
# fio: io_uring, O_DIRECT, 1 MiB blocks, QD 32, batched submission and completion, registered
# buffers and file, huge-page buffers (--mem=mmaphuge), 1 and 2 jobs (tiermem uses 2 rings).
# As root the script reserves vm.nr_hugepages for fio and for the pools' DRAM tiers (so both
# sides read into 2 MiB pages), and puts the old value back at the end. With --stock it
# reserves fio's alone, fewer than a pool would take: the pools get what a stock machine gives
# them (anonymous transparent huge pages; issue 14).
#
# usage: bench/gpu_tier.sh --bin BUILD/bin --dir NVME_DIR [--fio FIO] [--layer 64MiB]
#                          [--layers 64] [--dram 1GiB] [--gpu 512MiB] [--copy 1GiB]
#                          [--pages "2MiB 4MiB 8MiB"] [--rounds 3] [--out DIR] [--stock]
set -euo pipefail

bin=build/release/bin
dir=${TMPDIR:-/tmp}
fio=fio
layer=64MiB
layers=64
dram=1GiB
gpu=512MiB
copy=1GiB
pages="2MiB 4MiB 8MiB"
rounds=3
out=
stock=0
while (($#)); do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --fio) fio=$2; shift 2 ;;
    --layer) layer=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --dram) dram=$2; shift 2 ;;
    --gpu) gpu=$2; shift 2 ;;
    --copy) copy=$2; shift 2 ;;
    --pages) pages=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --stock) stock=1; shift ;;
    *) echo "gpu_tier.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
bench=$bin/gpu_tier_bench
for tool in "$fio" "$bench" python3; do
  command -v "$tool" >/dev/null || { echo "gpu_tier.sh: $tool not found" >&2; exit 2; }
done
log() { if [[ -n $out ]]; then tee -a "$out/gpu_tier.log"; else cat; fi; }

set_bytes=$(( $(numfmt --from=iec "${layer%iB}") * layers ))
file=$(mktemp "$dir/gpu-tier-fio.XXXXXX")
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  rm -f "$file"
  if ((EUID == 0)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
}
trap cleanup EXIT

# Enough 2 MiB pages for fio's two jobs and, unless --stock, the largest DRAM tier (the copy
# bench's).
dram_pages=$(( ($(numfmt --from=iec "${copy%iB}") + (64 << 20)) >> 21 ))
stream_pages=$(( $(numfmt --from=iec "${dram%iB}") >> 21 ))
need=$(( 2 * 17 + 16 ))
if ((!stock)); then need=$(( need + (dram_pages > stream_pages ? dram_pages : stream_pages) )); fi
if ((EUID == 0)); then echo $((old_hugepages + need)) >/proc/sys/vm/nr_hugepages; fi
echo "huge pages free: $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) (wanted $need)" | log

echo "fio layout: $file, $set_bytes bytes" | log
"$fio" --name=layout --filename="$file" --size="$set_bytes" --bs=1M --rw=write --direct=1 \
  --ioengine=io_uring --iodepth=32 --output-format=json >/dev/null

# fio_run read|write JOBS: prints the bandwidth in GB/s. The jobs split the file.
fio_run() {
  local rw=$1 jobs=$2 part=$((set_bytes / $2))
  "$fio" --name="$rw" --filename="$file" --rw="$rw" --bs=1M --iodepth=32 --numjobs="$jobs" \
    --size="$part" --offset_increment="$part" --direct=1 --ioengine=io_uring \
    --iodepth_batch_submit=8 --iodepth_batch_complete_max=32 --fixedbufs --registerfiles \
    --mem=mmaphuge --group_reporting --output-format=json |
    python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["jobs"][0][sys.argv[1]]["bw_bytes"] / 1e9))' "$rw"
}
fio_read() { fio_run read "$1"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }

"$bench" vmm --page 2MiB | log
copy_lines=()
for page in $pages; do
  result=$("$bench" copy --size "$copy" --page "$page" --dir "$dir" --log warn)
  echo "$result" | log
  copy_lines+=("$page $(json_field h2d_ratio <<<"$result") $(json_field d2h_ratio <<<"$result") $(json_field pin_d2h_ratio <<<"$result")")
done

# NVMe->GPU against fio: rounds of fio (the better of 1 and 2 jobs) then one tiermem pass;
# the median of the rounds' ratios (the virtio disk's bandwidth drifts by 20 % between runs).
ratios=()
for ((r = 1; r <= rounds; r++)); do
  f1=$(fio_read 1)
  f2=$(fio_read 2)
  f=$(printf '%s\n' "$f1" "$f2" | sort -g | tail -1)
  t=$("$bench" stream --layer "$layer" --layers "$layers" --dram "$dram" --gpu "$gpu" \
    --dir "$dir" --only transfer --log warn | json_field nvme_gpu_gbps)
  ratios+=("$(python3 -c "print('%.4f' % ($t / $f))")")
  echo "round $r: fio read $f1 GB/s (1 job), $f2 GB/s (2 jobs); tiermem nvme->gpu $t GB/s; ratio ${ratios[-1]}" | log
done
ratio_median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')

stream=$("$bench" stream --layer "$layer" --layers "$layers" --dram "$dram" --gpu "$gpu" \
  --dir "$dir" --compute 1.2 --log warn)
echo "$stream" | log

fio_writes=()
for jobs in 1 2; do fio_writes+=("$(fio_run write $jobs)"); done
echo "fio write: 1 job ${fio_writes[0]} GB/s, 2 jobs ${fio_writes[1]} GB/s" | log
fio_write_best=$(printf '%s\n' "${fio_writes[@]}" | sort -g | tail -1)

hidden=$(json_field hidden <<<"$stream")
writeback=$(json_field writeback_gbps <<<"$stream")
{
  echo
  echo "| target | ratio | goal |"
  echo "| --- | --- | --- |"
  for line in "${copy_lines[@]}"; do
    read -r page h2d d2h pin_d2h <<<"$line"
    echo "| DRAM->GPU pins, pages of $page / cudaMemcpyAsync | $h2d | >= 0.9 |"
    echo "| GPU->DRAM evictions, pages of $page / cudaMemcpyAsync | $d2h | >= 0.9 |"
    echo "| GPU->DRAM pins in dram, pages of $page / cudaMemcpyAsync | $pin_d2h | >= 0.9 |"
  done
  echo "| NVMe->GPU streaming / fio read (median of $rounds rounds: ${ratios[*]}) | $ratio_median | >= 0.9 |"
  echo "| transfer time hidden under compute 1.2x the transfer | $(python3 -c "print('%.1f %%' % (100 * $hidden))") | >= 95 % |"
  echo "| GPU->DRAM->NVMe write-back $writeback GB/s / fio write (best of 2: $fio_write_best GB/s) | $(python3 -c "print('%.3f' % ($writeback / $fio_write_best))") | (none set) |"
} | log
