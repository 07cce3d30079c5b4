#!/usr/bin/env bash
# tests/test_exports.sh: libtiermem.so has its versioned SONAME and exports the API, every
# function and class include/tiermem marks TIERMEM_API, and nothing of tiermem's internals:
# every tiermem name in an exported symbol must be one the public headers declare, and none
# may be in an internal namespace (detail, io, policies, support).
# Usage: test_exports.sh LIBTIERMEM_SO INCLUDE_DIR SONAME
set -euo pipefail
lib=$1 include=$2 soname=$3
failed=0
fail() { echo "test_exports: $*" >&2; failed=1; }

dynamic=$(readelf -d "$lib")
grep -q "(SONAME).*\[$soname\]" <<<"$dynamic" ||
  fail "$lib: SONAME is not $soname: $(grep SONAME <<<"$dynamic")"

exported=$(nm -D --defined-only "$lib" | awk '{print $3}')
demangled=$(c++filt <<<"$exported")
public_words=$(cat "$include"/tiermem/*.h* | grep -oE '[A-Za-z_][A-Za-z0-9_]*' | sort -u)

# Every name right after tiermem:: (or tiermem::sim::, workload::, policy::) in an exported symbol.
while read -r name; do
  case $name in
    detail | io | policies | support) fail "an internal namespace is exported: tiermem::$name" ;;
    *) grep -qx "$name" <<<"$public_words" || fail "tiermem::$name is exported but not public" ;;
  esac
done < <(grep -oE 'tiermem::((sim|workload|policy)::)?[A-Za-z_][A-Za-z0-9_]*' <<<"$demangled" |
         sed -E 's/^tiermem::((sim|workload|policy)::)?//' | sort -u)
if grep -E 'tiermem::(detail|io|policies|support)::' <<<"$demangled" >&2; then
  fail "the symbols above are internal"
fi

# Every C function of tiermem.h.
for f in $(grep -oE 'TIERMEM_API [^(]*\btiermem_[a-z_]+\(' "$include/tiermem/tiermem.h" |
           grep -oE 'tiermem_[a-z_]+\($' | tr -d '('); do
  grep -qx "$f" <<<"$exported" || fail "$f is not exported"
done

# Every C++ function and class marked TIERMEM_API.
names=$(cat "$include"/tiermem/*.hpp |
  sed -nE -e 's/.*(class|struct) TIERMEM_API ([A-Za-z_][A-Za-z0-9_]*).*/\2/p' \
          -e 's/^TIERMEM_API [^(]*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/p' | sort -u)
[[ $(wc -l <<<"$names") -gt 30 ]] || fail "found only $(wc -l <<<"$names") public names"
for name in $names; do
  grep -qE "tiermem::((sim|workload|policy)::)?$name([^A-Za-z0-9_]|$)" <<<"$demangled" ||
    fail "tiermem::$name is public but not exported"
done

((failed == 0)) && echo "test_exports: $(wc -l <<<"$exported") symbols, the API's and no internal one"
exit $failed
