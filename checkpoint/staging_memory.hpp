// checkpoint/staging_memory.hpp: the save's staging buffers: anonymous memory, 2 MiB-aligned
// and advised for huge pages, so that a 1 MiB O_DIRECT piece is one physically contiguous
// segment (the virtio disk splits requests of scattered 4 KiB pages: docs/DESIGN.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tiermem::checkpoint {

// Ownership: owns the mapping. Not thread-safe to move; its memory may be used from any thread.
class StagingMemory {
 public:
  // count buffers of bytes each (bytes rounded up to 2 MiB). Throws Error(system) when the
  // memory cannot be mapped, naming the size and errno.
  StagingMemory(uint64_t bytes, uint32_t count);
  ~StagingMemory();
  StagingMemory(const StagingMemory&) = delete;
  StagingMemory& operator=(const StagingMemory&) = delete;

  uint32_t count() const noexcept { return count_; }
  std::span<std::byte> buffer(uint32_t i) const noexcept {
    return {base_ + i * buffer_bytes_, static_cast<size_t>(buffer_bytes_)};
  }
  std::span<std::byte> all() const noexcept {
    return {base_, static_cast<size_t>(buffer_bytes_ * count_)};
  }

 private:
  void* mapping_ = nullptr;
  size_t mapped_ = 0;
  std::byte* base_ = nullptr;
  uint64_t buffer_bytes_;
  uint32_t count_;
};

}  // namespace tiermem::checkpoint
