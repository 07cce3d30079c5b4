// tiermem/locked_buffer.cpp: LockedBuffer, a run of the process-wide locked arena.
//
// Callers ask for buffers of mixed sizes (4 KiB bounce buffers for the unaligned ends of
// O_DIRECT I/O, multi-MiB staging buffers) and locking memory is costly, so buffers come from
// LockedArena (tiermem/locked_arena.hpp), which locks each chunk once and reuses freed runs.
#include "tiermem/locked_buffer.hpp"

#include <utility>

#include "tiermem/error.hpp"
#include "tiermem/locked_arena.hpp"

namespace tiermem {

LockedBuffer LockedBuffer::allocate(size_t bytes) {
  if (bytes == 0) throw Error(Errc::invalid_argument, "LockedBuffer of 0 bytes");
  detail::LockedArena::Run run = detail::LockedArena::instance().allocate(bytes);
  LockedBuffer buffer;
  buffer.data_ = run.data;
  buffer.size_ = run.size;
  buffer.locked_ = run.locked;
  return buffer;
}

LockedBuffer::LockedBuffer(LockedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

LockedBuffer& LockedBuffer::operator=(LockedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) detail::LockedArena::instance().free(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

LockedBuffer::~LockedBuffer() {
  if (data_ != nullptr) detail::LockedArena::instance().free(data_, size_);
}

}  // namespace tiermem
