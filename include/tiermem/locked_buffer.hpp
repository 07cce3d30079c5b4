// tiermem/locked_buffer.hpp: page-locked host buffers for the caller's own use.
//
// These are what a caller needs to stage data for O_DIRECT file I/O or fast GPU copies
// (DeepNVMe's new_cpu_locked_tensor). They need no Pool, no GPU and no CUDA. Memory comes from
// tiermem's own arena of chunks mapped with 2 MiB alignment, advised for huge pages and locked
// with mlock where RLIMIT_MEMLOCK allows; the chunks are kept and freed buffers reused, so the
// cost of locking is paid once.
#pragma once

#include <cstddef>
#include <span>

#include "tiermem/export.h"

namespace tiermem {

class TIERMEM_API LockedBuffer {
 public:
  // Allocates bytes (rounded up to 4 KiB) aligned to at least 4 KiB. Throws Error(system) when
  // the memory cannot be mapped, Error(invalid_argument) for zero bytes. Thread-safe.
  static LockedBuffer allocate(size_t bytes);

  LockedBuffer() = default;
  LockedBuffer(LockedBuffer&& other) noexcept;
  LockedBuffer& operator=(LockedBuffer&& other) noexcept;
  LockedBuffer(const LockedBuffer&) = delete;
  LockedBuffer& operator=(const LockedBuffer&) = delete;
  ~LockedBuffer();

  std::byte* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
  // False when the memory could not be locked (a low RLIMIT_MEMLOCK); it is still usable.
  bool locked() const noexcept { return locked_; }

 private:
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  bool locked_ = false;
};

}  // namespace tiermem
