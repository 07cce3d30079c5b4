#!/usr/bin/env bash
# tests/test_install.sh: `cmake --install` of this build into a temporary prefix, then, outside
# the tree, a C++ consumer configured with find_package(tiermem) and a C consumer built with
# pkg-config, each linked against libtiermem.so and against libtiermem.a. Each runs, as does
# the installed tiermem tool, with no LD_LIBRARY_PATH: the installed RUNPATHs must find the
# library.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR CMAKE GENERATOR MAKE_PROGRAM, with CC, CXX, CFLAGS,
# CXXFLAGS and LDFLAGS in the environment: the build's own, so that consumers are compiled and
# linked alike (a sanitizer build's too).
set -euo pipefail
build=$1 source=$2 cmake=$3 generator=$4 make_program=$5
unset LD_LIBRARY_PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/tiermem-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
step() { echo "test_install: $*"; }
quiet() {  # runs a command, showing its output only when it fails
  "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "test_install: failed: $*" >&2; exit 1; }
}

step "cmake --install $build --prefix $prefix"
quiet "$cmake" --install "$build" --prefix "$prefix"
lib=$(dirname "$(find "$prefix" -name libtiermem.so.0 -print -quit)")
for f in include/tiermem/tiermem.h include/tiermem/tiermem.hpp include/tiermem/export.h \
         bin/tiermem; do
  [[ -f $prefix/$f ]] || { echo "test_install: $prefix/$f is missing" >&2; exit 1; }
done
for f in libtiermem.so libtiermem.so.0 libtiermem.a pkgconfig/tiermem.pc \
         cmake/tiermem/tiermemConfig.cmake cmake/tiermem/tiermemConfigVersion.cmake; do
  [[ -e $lib/$f ]] || { echo "test_install: $lib/$f is missing" >&2; exit 1; }
done
[[ $(readlink "$lib/libtiermem.so") == libtiermem.so.0 ]] ||
  { echo "test_install: libtiermem.so links to $(readlink "$lib/libtiermem.so")" >&2; exit 1; }
quiet "$prefix/bin/tiermem" version

step "C++ consumer through find_package(tiermem COMPONENTS static)"
quiet "$cmake" -S "$source/tests/consumers/cpp" -B "$work/cpp" -G "$generator" \
  -DCMAKE_MAKE_PROGRAM="$make_program" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
quiet "$cmake" --build "$work/cpp"
mkdir "$work/data"
for consumer in consumer_shared consumer_static; do
  "$work/cpp/$consumer" "$work/data"
done
# The shared one loads the installed library, not the build's; the static ones none.
loads() { ldd "$1" >"$work/ldd"; grep -q "$2" "$work/ldd"; }
loads "$work/cpp/consumer_shared" "libtiermem.so.0 => $lib/" ||
  { cat "$work/ldd" >&2; echo "test_install: consumer_shared loads another library" >&2; exit 1; }
if loads "$work/cpp/consumer_static" libtiermem.so; then
  echo "test_install: consumer_static loads libtiermem.so" >&2
  exit 1
fi

step "C consumer through pkg-config"
export PKG_CONFIG_PATH=$lib/pkgconfig
version=$("$prefix/bin/tiermem" version)
[[ $version == "tiermem $(pkg-config --modversion tiermem)" ]] ||
  { echo "test_install: tiermem.pc has $(pkg-config --modversion tiermem); $version" >&2; exit 1; }
rpath=-Wl,-rpath,$(pkg-config --variable=libdir tiermem)
# shellcheck disable=SC2046,SC2086  # the flags are words
"$CC" $CFLAGS -o "$work/c_consumer" "$source/tests/consumers/c/main.c" \
  $(pkg-config --cflags --libs tiermem) "$rpath" $LDFLAGS
"$work/c_consumer" "$work/data"
# Against libtiermem.a: what `pkg-config --static` names must be all it needs.
static_libs=$(pkg-config --static --libs tiermem)
# shellcheck disable=SC2046,SC2086
"$CC" $CFLAGS -o "$work/c_consumer_static" "$source/tests/consumers/c/main.c" \
  $(pkg-config --cflags tiermem) ${static_libs/-ltiermem /-l:libtiermem.a } "$rpath" $LDFLAGS
"$work/c_consumer_static" "$work/data"
if loads "$work/c_consumer_static" libtiermem.so; then
  echo "test_install: c_consumer_static loads libtiermem.so" >&2
  exit 1
fi
