// checkpoint/hashing_copy.hpp: a copy that also feeds the copied bytes to a checksum, in one
// pass over memory: each 64 KiB block is hashed right after it is copied, while it is still in
// the core's cache, instead of hashing the whole staging buffer again from memory afterwards.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

#include "persist/checksum.hpp"

namespace tiermem::checkpoint {

// Small enough to stay in L2 (and mostly L1) between the copy and the hash, large enough that
// the per-call cost of the memcpy and of xxh3's streaming update is negligible. Measured on
// the 2 vCPU VM with SSE2 xxh3 (bench/RESULTS.md, Checkpoints), copy + hash of 1 GiB: per
// 16 KiB 2.9-4.0 GB/s, per 64 KiB 3.2-4.4, per 256 KiB 2.4-3.9, per 16 MiB piece 2.5-3.1.
inline constexpr size_t kHashingCopyBlock = 64 << 10;

// Copies in[0, out.size()) to out; when hash is not null, updates it with the bytes as
// written to out (what the file will hold), in order.
inline void hashing_copy(std::span<std::byte> out, const std::byte* in, persist::Checksum* hash) {
  if (hash == nullptr) {
    std::memcpy(out.data(), in, out.size());
    return;
  }
  for (size_t done = 0; done < out.size();) {
    const size_t length = std::min(kHashingCopyBlock, out.size() - done);
    std::memcpy(out.data() + done, in + done, length);
    hash->update(out.data() + done, length);
    done += length;
  }
}

}  // namespace tiermem::checkpoint
