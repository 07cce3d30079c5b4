// persist/checksum.hpp: the one checksum every stored byte is checked with: XXH3, 64 bits.
//
// Fast enough (tens of GB/s per core) to check every page read back from a persistent pool's
// files without slowing the disk down. Debian's libxxhash-dev, inlined (XXH_INLINE_ALL): no
// library to link, so libtiermem.a and libtiermem.so need nothing more of their users.
#pragma once

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace tiermem::persist {

inline uint64_t checksum(const void* data, size_t bytes) noexcept {
  return XXH3_64bits(data, bytes);
}

// The same checksum over bytes that come in pieces: update() with each, in order, then
// digest(). Not thread-safe.
class Checksum {
 public:
  Checksum() { XXH3_64bits_reset(&state_); }
  void reset() noexcept { XXH3_64bits_reset(&state_); }
  void update(const void* data, size_t bytes) noexcept { XXH3_64bits_update(&state_, data, bytes); }
  uint64_t digest() const noexcept { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

}  // namespace tiermem::persist
