// persist/checksum_avx2.hpp: XXH3 built for AVX2 (checksum_avx2.cpp, compiled with -mavx2 on
// x86-64 only), for checksum.cpp to call where the CPU has AVX2. Kept apart because nothing
// else may be compiled for AVX2: the library runs on any x86-64. Includes nothing but
// xxhash.h, so that the AVX2 file compiles no C++ inline function that the linker could pick
// for every caller.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace tiermem::persist::detail {

uint64_t xxh3_avx2(const void* data, size_t bytes) noexcept;
void xxh3_update_avx2(XXH3_state_t* state, const void* data, size_t bytes) noexcept;

}  // namespace tiermem::persist::detail
