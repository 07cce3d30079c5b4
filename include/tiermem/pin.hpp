// tiermem/pin.hpp: a pinned byte range of a tensor, resident in one tier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tiermem/error.hpp"
#include "tiermem/export.h"
#include "tiermem/types.hpp"

// CUDA's stream type, declared so that this header needs no CUDA header: cudaStream_t (the
// runtime's) and CUstream (the driver's) are both CUstream_st*.
struct CUstream_st;

namespace tiermem {

// A CUDA stream of the gpu tier's device (in its primary context, the one the CUDA runtime
// uses); pass a cudaStream_t or CUstream as it is. Null is the legacy default stream.
using GpuStream = CUstream_st*;

namespace detail {
class PoolCore;
}

// While a Pin lives, every page of its range stays resident in its tier and is never evicted,
// and data() is one contiguous pointer to the whole range: a host pointer for the dram tier, a
// device pointer for the gpu tier (a host pointer into emulated GPU memory without CUDA).
//
// Device work on a gpu pin: a pin made by Tensor::pin is ready for any stream when it is
// returned, and the caller's device work on its pointer must have finished (say, by a stream
// synchronize) before the Pin ends. A pin made by Tensor::pin_on_stream is ordered with its
// stream instead: work launched on that stream after the pin sees the data, and work enqueued
// there before the Pin ends may still be running when it ends (see Tensor::pin_on_stream).
//
// Ownership: move-only; the destructor unpins. Thread safety: a Pin object belongs to one
// thread at a time, but the memory it points to may be used by any thread while it lives.
// A Pin should end before its Pool is destroyed; one that outlives it is logged as an error and
// keeps the pool's memory until it ends (see ~Pool).
class TIERMEM_API Pin {
 public:
  Pin() = default;
  Pin(Pin&& other) noexcept;
  Pin& operator=(Pin&& other) noexcept;
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  ~Pin() { reset(); }

  // True while the pin holds pages.
  explicit operator bool() const noexcept { return core_ != nullptr; }

  void* data() const noexcept { return data_; }
  uint64_t size() const noexcept { return size_; }
  Tier tier() const noexcept { return tier_; }
  Access access() const noexcept { return access_; }
  // Whether the pin is ordered with a stream (Tensor::pin_on_stream), and which.
  bool on_stream() const noexcept { return on_stream_; }
  GpuStream stream() const noexcept { return stream_; }

  // A zero-copy view of the pinned bytes.
  std::span<std::byte> bytes() const noexcept {
    return {static_cast<std::byte*>(data_), static_cast<size_t>(size_)};
  }

  // A zero-copy view as elements of T. Throws Error(invalid_argument) when the size is not a
  // multiple of sizeof(T) or the pointer is not aligned for T.
  template <class T>
  std::span<T> as() const {
    if (size_ % sizeof(T) != 0 || reinterpret_cast<uintptr_t>(data_) % alignof(T) != 0) {
      throw_bad_view(sizeof(T), alignof(T));
    }
    return {static_cast<T*>(data_), static_cast<size_t>(size_ / sizeof(T))};
  }

  // Unpins now; the Pin becomes empty. Never blocks on I/O. For a pin on a stream, records
  // the end of the stream's work so far on the pinned frames (an event on the stream).
  void reset() noexcept;

 private:
  friend class detail::PoolCore;
  [[noreturn]] void throw_bad_view(size_t element_size, size_t element_align) const;

  detail::PoolCore* core_ = nullptr;
  uint64_t first_page_ = 0;  // global page id of the first pinned page
  uint32_t page_count_ = 0;
  Tier tier_ = Tier::dram;
  Access access_ = Access::read;
  void* data_ = nullptr;
  uint64_t size_ = 0;
  bool on_stream_ = false;
  GpuStream stream_ = nullptr;
};

}  // namespace tiermem
