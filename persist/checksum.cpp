// persist/checksum.cpp: XXH3 with the widest vectors the CPU has: AVX2 where it has it
// (checksum_avx2.cpp, x86-64 builds), else the build's baseline (SSE2 on x86-64).
#include "persist/checksum.hpp"

#ifdef TIERMEM_XXH3_AVX2
#include "persist/checksum_avx2.hpp"
#endif

namespace tiermem::persist::detail {

#ifdef TIERMEM_XXH3_AVX2
namespace {
// Asked once. A checksum taken by another static initializer before this one has run sees
// false and uses the baseline, which gives the same result.
const bool kAvx2 = [] {
  __builtin_cpu_init();  // needed before main, where this runs
  return __builtin_cpu_supports("avx2") != 0;
}();
}  // namespace
#endif

uint64_t xxh3(const void* data, size_t bytes) noexcept {
#ifdef TIERMEM_XXH3_AVX2
  if (kAvx2) return xxh3_avx2(data, bytes);
#endif
  return XXH3_64bits(data, bytes);
}

void xxh3_update(XXH3_state_t* state, const void* data, size_t bytes) noexcept {
#ifdef TIERMEM_XXH3_AVX2
  if (kAvx2) return xxh3_update_avx2(state, data, bytes);
#endif
  XXH3_64bits_update(state, data, bytes);
}

}  // namespace tiermem::persist::detail
