#!/usr/bin/env bash
# tests/test_cli_hygiene.sh TIERMEM: every command and subcommand answers --help without its
# other options, --version names the library's version, sizes take the fio/dd spellings, and
# every --json report writes numbers as JSON numbers (no 1E0, no "4" for an integer).
set -euo pipefail
tiermem=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for command in demo io stress config tune version sim trace "trace gen" "trace gen layers" \
  "trace gen optimizer" "trace gen zipf" "trace gen uniform" "trace convert" "trace info" \
  "trace models"; do
  # shellcheck disable=SC2086  # the command's words are separate arguments
  "$tiermem" $command --help > "$dir/help.txt" 2>&1 || fail "$command --help: $(cat "$dir/help.txt")"
  grep -q "usage: tiermem" "$dir/help.txt" || fail "$command --help printed no usage"
done
"$tiermem" --help | grep -q "tiermem --version" || fail "tiermem --help lacks --version"
"$tiermem" --version | grep -Eqx "tiermem [0-9]+\.[0-9]+\.[0-9]+" || fail "--version: $("$tiermem" --version)"
[ "$("$tiermem" --version)" = "$("$tiermem" version)" ] || fail "--version and version differ"
if "$tiermem" version extra 2> /dev/null; then fail "version took an operand"; fi

# JSON numbers: the text given is JSON with no Boost-style exponent (1E0, 5E-1; a double is
# written in its shortest form, 1 or 0.5) and no string that holds only a number.
json_numbers() {
  /usr/bin/python3 -c '
import json, re, sys
text = sys.stdin.read().strip()
if re.search(r"[0-9]E[+-]?[0-9]", text):
    sys.exit("exponent form in " + text)
def walk(value, path):
    if isinstance(value, dict):
        for key, item in value.items(): walk(item, path + "." + key)
    elif isinstance(value, list):
        for i, item in enumerate(value): walk(item, path + "[%d]" % i)
    elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        sys.exit("%s is the string \"%s\", not a number" % (path, value))
walk(json.loads(text), "")
' || fail "$1"
}
"$tiermem" trace gen zipf --pages 64 --events 500 --page-size 4k -o "$dir/z.bin" > /dev/null
"$tiermem" sim "$dir/z.bin" --dram 1.5m --eviction lru --eviction s3fifo --json | tail -1 \
  > "$dir/sim.json"
json_numbers "sim --json" < "$dir/sim.json"
grep -q '"gap.misses":[0-9.]*[,}]' "$dir/sim.json" || fail "gap.misses: $(cat "$dir/sim.json")"
grep -q '"dram_bytes":1572864' "$dir/sim.json" || fail "--dram 1.5m is not 1572864 bytes"
"$tiermem" trace info "$dir/z.bin" --json | tail -1 | json_numbers "trace info --json"
"$tiermem" config --set io.threads=3 --set dram.capacity=1.5g > "$dir/config.json"
json_numbers "config" < "$dir/config.json"
grep -q '"io.threads":3' "$dir/config.json" || fail "io.threads is not the number 3"
grep -q '"dram.capacity":"1536MiB"' "$dir/config.json" || fail "dram.capacity 1.5g"
grep -q '"nvme.direct":true' "$dir/config.json" || fail "nvme.direct is not a boolean"
"$tiermem" io --dir "$dir" --op write --size 4m --block 1m --engine psync --no-direct --json \
  2> /dev/null | tail -1 > "$dir/io.json"
json_numbers "io --json" < "$dir/io.json"
grep -q '"bytes":4194304' "$dir/io.json" || fail "io --size 4m: $(cat "$dir/io.json")"

# Sizes: errors name the text, the option and what is accepted.
if "$tiermem" sim "$dir/z.bin" --dram -1g 2> "$dir/err.txt"; then fail "--dram -1g was accepted"; fi
grep -q "\-\-dram: invalid size '-1g': it is negative" "$dir/err.txt" || fail "$(cat "$dir/err.txt")"
if "$tiermem" trace gen zipf --page-size 4q -o "$dir/q.bin" 2> "$dir/err.txt"; then
  fail "--page-size 4q was accepted"
fi
grep -q "\-\-page-size: invalid size '4q': 'q' is not a unit;.*1.5G" "$dir/err.txt" \
  || fail "$(cat "$dir/err.txt")"
echo "ok"
