// persist/checksum.hpp: the one checksum every stored byte is checked with: XXH3, 64 bits.
//
// Fast enough (tens of GB/s per core) to check every page read back from a persistent pool's
// files without slowing the disk down. Debian's libxxhash-dev, inlined (XXH_INLINE_ALL) into
// checksum.cpp and checksum_avx2.cpp, which pick the widest vectors the CPU has: no library
// to link, so libtiermem.a and libtiermem.so need nothing more of their users.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace tiermem::persist {

namespace detail {
// XXH3-64 of data, and the streaming update, with AVX2 where the CPU has it (checksum.cpp).
uint64_t xxh3(const void* data, size_t bytes) noexcept;
void xxh3_update(XXH3_state_t* state, const void* data, size_t bytes) noexcept;
}  // namespace detail

inline uint64_t checksum(const void* data, size_t bytes) noexcept {
  return detail::xxh3(data, bytes);
}

// The same checksum over bytes that come in pieces: update() with each, in order, then
// digest(). Not thread-safe.
class Checksum {
 public:
  Checksum() { XXH3_64bits_reset(&state_); }
  void reset() noexcept { XXH3_64bits_reset(&state_); }
  void update(const void* data, size_t bytes) noexcept {
    detail::xxh3_update(&state_, data, bytes);
  }
  uint64_t digest() const noexcept { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

}  // namespace tiermem::persist
