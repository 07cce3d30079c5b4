#!/usr/bin/env bash
# bench/io_vs_fio.sh: `tiermem io` against fio on the same file, with the same size, block
# size, queue depth and threads, alternating fio and tiermem runs (A B A B ...), and the
# median of the per-round ratios tiermem/fio for:
#   sequential read and write, 1 MiB blocks, QD 32, each tool at its best thread count; the
#   ratio pairs runs of the same rounds at one thread count, fio's best (a ratio across thread
#   counts would pair runs from different times and lose the alternation's drift protection);
#   4 KiB random read at QD 64 (IOPS);
#   the psync engine's sequential read and write against fio's best.
# fio runs io_uring with O_DIRECT and huge-page buffers (--mem=mmaphuge), submitting and
# reaping in batches with registered buffers and file, as tiermem's engine does: fio's default
# of one io_uring_enter per request gets only about 60 % of the IOPS of 4 KiB random reads here,
# a comparison that would flatter tiermem. tiermem io's buffers are transparent huge pages.
# As root the script reserves vm.nr_hugepages for fio and puts the old value back at the end.
#
# usage: bench/io_vs_fio.sh [--dir DIR] [--size SIZE] [--rounds N] [--threads "1 2 4"]
#                           [--psync-threads "8 16"] [--rand-seconds S] [--cpus LIST]
#                           [--tiermem PATH]
# --cpus runs both tools under `taskset -c LIST`: on a VM whose disk interrupts all go to one
# CPU, which CPU the scheduler picks moves 4 KiB random-read IOPS by up to 40 % for either tool.
set -euo pipefail

dir=${TMPDIR:-/tmp}
size=4G
rounds=3
threads="1 2 4"
psync_threads="8 16"
rand_seconds=5
tiermem=build/release/bin/tiermem
pin=()
while (($#)); do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --psync-threads) psync_threads=$2; shift 2 ;;
    --rand-seconds) rand_seconds=$2; shift 2 ;;
    --tiermem) tiermem=$2; shift 2 ;;
    --cpus) pin=(taskset -c "$2"); shift 2 ;;
    *) echo "io_vs_fio.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in fio python3 "$tiermem"; do
  command -v "$tool" >/dev/null || { echo "io_vs_fio.sh: $tool not found" >&2; exit 2; }
done

file=$(mktemp "$dir/tiermem-vs-fio.XXXXXX")
old_hugepages=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  rm -f "$file"
  if ((EUID == 0)); then echo "$old_hugepages" >/proc/sys/vm/nr_hugepages; fi
}
trap cleanup EXIT

# fio maps iodepth x bs per job, plus a little: enough free 2 MiB pages for the largest case.
# Checked before every fio run: vm.nr_hugepages is global, and other programs take pages too.
max_threads=$(tr ' ' '\n' <<<"$threads" | sort -n | tail -1)
need=$((max_threads * (32 + 2) / 2 + 16))
reserve_hugepages() {
  local free total
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  ((free >= need)) && return
  total=$(cat /proc/sys/vm/nr_hugepages)
  ((EUID == 0)) && echo $((total + need - free)) >/proc/sys/vm/nr_hugepages
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  ((free >= need)) || { echo "io_vs_fio.sh: fio needs $need free huge pages, there are $free" >&2; exit 2; }
}

bytes=$(numfmt --from=iec "$size")
echo "file $file, $size; fio $(fio --version); $(nproc) CPUs; kernel $(uname -r)${pin:+; ${pin[*]}}"
fio --name=layout --filename="$file" --size="$size" --bs=1M --rw=write --direct=1 \
  --ioengine=io_uring --iodepth=32 --output-format=json >/dev/null

# Python that reads a JSON object j from stdin and defines print_numbers(object, keys...), which
# prints those members on one line as jq does: integral values without ".0". Ends in a newline,
# so that code appended to it runs after the definition rather than inside it.
numbers='import json, sys
j = json.load(sys.stdin)
def print_numbers(o, *keys): print(*(int(o[k]) if o[k] == int(o[k]) else o[k] for k in keys))
'

# fio RW BS QD THREADS [EXTRA...]: prints "bytes_per_second iops". The threads split the file.
run_fio() {
  local rw=$1 bs=$2 qd=$3 jobs=$4
  shift 4
  local part=$((bytes / jobs))
  reserve_hugepages
  "${pin[@]}" fio --name=job --filename="$file" --rw="$rw" --bs="$bs" --iodepth="$qd" \
    --numjobs="$jobs" --size="$part" --offset_increment="$part" --direct=1 --ioengine=io_uring \
    --iodepth_batch_submit=$(((qd + 3) / 4)) --iodepth_batch_complete_max="$qd" \
    --fixedbufs --registerfiles --mem=mmaphuge --group_reporting --output-format=json "$@" |
    python3 -c "$numbers"'print_numbers(j["jobs"][0][sys.argv[1]], "bw_bytes", "iops")' \
      "$([[ $rw == *write* ]] && echo write || echo read)"
}

# tiermem OP PATTERN BS QD THREADS ENGINE [EXTRA...]: prints "bytes_per_second iops".
run_tiermem() {
  local op=$1 pattern=$2 bs=$3 qd=$4 jobs=$5 engine=$6
  shift 6
  "${pin[@]}" "$tiermem" io --file "$file" --size "$size" --op "$op" --pattern "$pattern" \
    --block "$bs" --qd "$qd" --threads "$jobs" --engine "$engine" --json "$@" |
    tail -1 | python3 -c "$numbers"'j["bps"] = j["gbps"] * 1e9; print_numbers(j, "bps", "iops")'
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
gbps() { awk '{printf "%.2f", $1 / 1e9}'; }
gbps_list() { awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1 / 1e9}'; }

# Alternates fio and tiermem ROUNDS times; leaves each run's "bytes_per_second iops" in the
# arrays fio_runs and tm_runs. Arguments: the fio part and the tiermem part, separated by --.
declare -a fio_runs tm_runs
alternate() {
  local fio_args=() tm_args=()
  while [[ $1 != -- ]]; do fio_args+=("$1"); shift; done
  shift
  tm_args=("$@")
  fio_runs=() tm_runs=()
  for ((r = 0; r < rounds; r++)); do
    fio_runs+=("$(run_fio "${fio_args[@]}")")
    tm_runs+=("$(run_tiermem "${tm_args[@]}")")
  done
}

# column N of each run, one a line
column() { local n=$1; shift; printf '%s\n' "$@" | awk -v n="$n" '{print $n}'; }
# median over rounds of a[i] / b[i], column N
ratio_median() {
  local n=$1
  paste <(column "$n" "${@:2:rounds}") <(column "$n" "${@:rounds+2}") |
    awk '{print $1 / $2}' | median
}

summary=()
sequential() {
  local op=$1 rw=$2
  local best_fio=0 best_tm=0 t_fio= t_tm= ratio=
  for t in $threads; do
    alternate "$rw" 1M 32 "$t" -- "$op" seq 1M 32 "$t" uring
    local f t_med
    f=$(column 1 "${fio_runs[@]}" | median)
    t_med=$(column 1 "${tm_runs[@]}" | median)
    printf '  %-5s threads %-2s fio %s GB/s  tiermem %s GB/s  (runs: fio %s; tiermem %s)\n' "$op" "$t" \
      "$(gbps <<<"$f")" "$(gbps <<<"$t_med")" "$(column 1 "${fio_runs[@]}" | gbps_list)" \
      "$(column 1 "${tm_runs[@]}" | gbps_list)"
    if awk -v a="$f" -v b="$best_fio" 'BEGIN {exit !(a > b)}'; then
      best_fio=$f; t_fio=$t
      ratio=$(ratio_median 1 "${tm_runs[@]}" "${fio_runs[@]}")
    fi
    if awk -v a="$t_med" -v b="$best_tm" 'BEGIN {exit !(a > b)}'; then best_tm=$t_med; t_tm=$t; fi
  done
  summary+=("$(printf 'seq %-5s 1MiB qd32: fio %s GB/s (%s threads), tiermem %s GB/s (%s threads): median ratio %.3f at %s threads' \
    "$op" "$(gbps <<<"$best_fio")" "$t_fio" "$(gbps <<<"$best_tm")" "$t_tm" "$ratio" "$t_fio")")
  printf -v "fio_threads_$op" '%s' "$t_fio"
}
echo "sequential, 1 MiB blocks, QD 32 per thread, $rounds rounds each (fio, tiermem alternating):"
sequential read read
sequential write write

echo "random read, 4 KiB blocks, QD 64, 1 thread, $rand_seconds s per run:"
alternate randread 4k 64 1 --time_based --runtime="$rand_seconds" -- \
  read rand 4KiB 64 1 uring --time "$rand_seconds"
rand_ratio=$(ratio_median 2 "${tm_runs[@]}" "${fio_runs[@]}")
printf '  IOPS fio %s; tiermem %s\n' "$(column 2 "${fio_runs[@]}" | tr '\n' ' ')" \
  "$(column 2 "${tm_runs[@]}" | tr '\n' ' ')"
summary+=("$(printf 'rand read 4KiB qd64: fio %.0f IOPS, tiermem %.0f IOPS: median ratio %.3f' \
  "$(column 2 "${fio_runs[@]}" | median)" "$(column 2 "${tm_runs[@]}" | median)" "$rand_ratio")")

echo "psync engine, sequential 1 MiB, 2 requests queued per thread, against fio at its best:"
for op in read write; do
  fio_t_var=fio_threads_$op
  fio_t=${!fio_t_var}
  best=0 best_t= best_ratio=
  for t in $psync_threads; do
    alternate "$op" 1M 32 "$fio_t" -- "$op" seq 1M 2 "$t" psync
    m=$(column 1 "${tm_runs[@]}" | median)
    r=$(ratio_median 1 "${tm_runs[@]}" "${fio_runs[@]}")
    printf '  %-5s psync threads %-2s %s GB/s, fio %s GB/s, median ratio %.3f (runs: psync %s; fio %s)\n' \
      "$op" "$t" "$(gbps <<<"$m")" "$(column 1 "${fio_runs[@]}" | median | gbps)" "$r" \
      "$(column 1 "${tm_runs[@]}" | gbps_list)" "$(column 1 "${fio_runs[@]}" | gbps_list)"
    if awk -v a="$m" -v b="$best" 'BEGIN {exit !(a > b)}'; then best=$m; best_t=$t; best_ratio=$r; fi
  done
  summary+=("$(printf 'psync seq %-5s: %s GB/s (%s threads) against fio io_uring (%s threads): median ratio %.3f' \
    "$op" "$(gbps <<<"$best")" "$best_t" "$fio_t" "$best_ratio")")
done

echo
echo "summary (tiermem / fio):"
printf '  %s\n' "${summary[@]}"
