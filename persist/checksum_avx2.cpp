// persist/checksum_avx2.cpp: XXH3 with AVX2 vectors: 2.5x the speed of the SSE2 build on a
// hot 64 KiB block (26 vs 10 GB/s on the 2 vCPU VM, bench/RESULTS.md, checkpoints). XXH3's
// result and streaming state do not depend on the vectors used, so both builds share states.
// This file alone is compiled with -mavx2 (persist/CMakeLists.txt); it includes nothing but
// xxhash.h, whose functions are static here, so no AVX2 code can stand in for a shared inline
// function.
#define XXH_VECTOR XXH_AVX2
#include "persist/checksum_avx2.hpp"

namespace tiermem::persist::detail {

uint64_t xxh3_avx2(const void* data, size_t bytes) noexcept {
  return XXH3_64bits(data, bytes);
}

void xxh3_update_avx2(XXH3_state_t* state, const void* data, size_t bytes) noexcept {
  XXH3_64bits_update(state, data, bytes);
}

}  // namespace tiermem::persist::detail
