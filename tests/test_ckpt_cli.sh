#!/usr/bin/env bash
# tests/test_ckpt_cli.sh TIERMEM: `tiermem ckpt`: help for every subcommand, a demo checkpoint
# (one file and sharded) that check accepts, one streamed in place, a copy, and a damaged file
# that check refuses, naming the tensor.
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$tiermem" ckpt --help | grep -q "ckpt demo" || fail "ckpt --help"
for sub in demo check copy bench stream; do
  "$tiermem" ckpt "$sub" --help | grep -q "usage: tiermem ckpt $sub" || fail "ckpt $sub --help"
done
"$tiermem" ckpt nonsense 2>/dev/null && fail "an unknown subcommand was accepted"

"$tiermem" ckpt demo "$dir/one" --size 8MiB --tensors 3 --json > "$dir/out"
tail -1 "$dir/out" | grep -q '"tensors":3' || fail "demo did not report 3 tensors"
"$tiermem" ckpt check "$dir/one/model.safetensors" --json | tail -1 |
  grep -q '"checksums_verified":3' || fail "check did not verify 3 checksums"

"$tiermem" ckpt demo "$dir/sharded" --size 8MiB --tensors 4 --shards 2 > /dev/null
[[ -f $dir/sharded/model-00002-of-00002.safetensors ]] || fail "no second shard"
"$tiermem" ckpt check "$dir/sharded" | grep -q "ok: 3 files, 4 tensors" || fail "sharded check"

# Streamed in place through a dram tier smaller than the file, against fio's read of it.
"$tiermem" ckpt stream "$dir/one/model.safetensors" --rounds 1 --ahead 1 --json > "$dir/out"
tail -1 "$dir/out" | grep -q '"stream_vs_fio":' || fail "stream did not report its ratio"

"$tiermem" ckpt copy "$dir/sharded" "$dir/copy.safetensors" --dram 16MiB > /dev/null
"$tiermem" ckpt check "$dir/copy.safetensors" | grep -q "4 tensors" || fail "copy check"

# One flipped byte in the data of the second tensor.
offset=$(python3 -c '
import json, struct, sys
blob = open(sys.argv[1], "rb").read(8)
n = struct.unpack("<Q", blob)[0]
h = json.loads(open(sys.argv[1], "rb").read(8 + n)[8:])
print(8 + n + h["layer1.weight"]["data_offsets"][0] + 100)' "$dir/one/model.safetensors")
printf '\x42' | dd of="$dir/one/model.safetensors" bs=1 seek="$offset" conv=notrunc status=none
if "$tiermem" ckpt check "$dir/one/model.safetensors" 2> "$dir/err"; then
  fail "check accepted a damaged file"
fi
grep -q "layer1.weight" "$dir/err" || fail "check did not name the tensor: $(cat "$dir/err")"
echo "test_ckpt_cli: ok"
