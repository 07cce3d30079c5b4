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

}  // namespace tiermem::persist
