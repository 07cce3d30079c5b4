// tiermem/tensor.hpp: a handle to a tensor allocated from a Pool.
#pragma once

#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "tiermem/export.h"
#include "tiermem/pin.hpp"
#include "tiermem/types.hpp"

namespace tiermem {

// Where one page of a tensor is, at the moment of asking.
struct PageResidency {
  bool valid[kTierCount] = {};  // the tier holds an up-to-date copy
  bool dirty = false;           // no tier below the highest valid one holds a copy
  bool in_flight = false;       // a migration of this page is under way
  uint32_t pins[2] = {};        // active pins in gpu and dram

  bool in(Tier tier) const noexcept { return valid[static_cast<int>(tier)]; }
  // Never written and never read: reads as zeros.
  bool unbacked() const noexcept { return !valid[0] && !valid[1] && !valid[2]; }
};

// A Tensor is a small copyable handle, like a file descriptor. Every copy refers to the same
// tensor; after release() every copy is stale and its calls throw Error(released).
//
// Thread safety: every call may be made from any thread at once, with any other call, except
// that release() must not race with calls on the same tensor.
// Handles must not be used after their Pool is destroyed.
//
// Pins: pin() makes every page of a byte range resident in a tier and returns a Pin with one
// contiguous pointer. Only gpu and dram can be pinned. A read pin and other read pins can
// coexist in both tiers; a write or read_write pin needs the pages unpinned in the other tier
// (Error(busy) otherwise), and makes the pinned tier's copy the only valid one.
class TIERMEM_API Tensor {
 public:
  Tensor() = default;

  // True for a handle obtained from Pool::allocate (even if released since).
  explicit operator bool() const noexcept { return core_ != nullptr; }

  std::string name() const;
  std::vector<uint64_t> shape() const;
  DType dtype() const;
  uint64_t size_bytes() const;
  uint64_t page_count() const;

  // Blocks until the range is resident in tier and pinned. Throws Error(invalid_argument) for
  // a range beyond the tensor or a tier that cannot be pinned, Error(out_of_space) for a
  // range larger than the tier can ever hold, Error(tier_full) when every frame of the tier is
  // pinned by others, Error(busy) for a conflicting pin, Error(io) when reading failed.
  Pin pin(Tier tier, Access access, ByteRange range = ByteRange::whole()) const;

  // Starts the same work as pin() and returns at once. The future yields the Pin, or the
  // Error pin() would throw. Argument errors are thrown here, before anything starts.
  std::future<Pin> pin_async(Tier tier, Access access, ByteRange range = ByteRange::whole()) const;

  // Pins the range in the gpu tier, ordered with the caller's CUDA stream, so that nothing
  // waits for the device:
  // - Work launched on stream after this returns sees the pinned data, and sees everything
  //   that earlier pins' work on these pages wrote (on any stream), without a device-wide or
  //   stream synchronize: the pin makes the stream wait on the device for that earlier work.
  // - When the Pin ends, an event is recorded on stream; tiermem copies the pages out of (or
  //   new pages into) their frames only after it, so the work enqueued on stream while the pin
  //   lived may still be running: a write pin's kernels finish before the engine writes those
  //   pages down, and a read pin's before their frames are reused.
  // Blocks, like pin(), until the data is in device memory (the host waits for the copies;
  // the stream does not). Throws what pin() throws, Error(unsupported) when the pool's gpu
  // tier is not CUDA (the emulation has no streams), Error(invalid_argument) for a stream of
  // another device or context than the gpu tier's. Thread safety as pin().
  Pin pin_on_stream(GpuStream stream, Access access, ByteRange range = ByteRange::whole()) const;

  // Starts the same work as pin_on_stream() and returns at once; the stream is ordered when
  // the future's Pin is ready.
  std::future<Pin> pin_on_stream_async(GpuStream stream, Access access,
                                       ByteRange range = ByteRange::whole()) const;

  // Schedules the range to be brought into tier without pinning it, and returns at once: the
  // application's hint that it will need the range soon (what its router has just chosen, the
  // next layer). Pages that do not fit without evicting pinned pages, or beyond the prefetch
  // budget, are skipped (Stats::prefetch_dropped), and so are pages pinned for writing (a copy
  // made during the write would be stale); the prefetch governor, which judges only
  // the prefetch policy's guesses, does not hold it back. A page it brings into dram is
  // evicted before its first pin only when no other page can go. Counted in
  // Stats::prefetch_*. A recorded trace holds it as a prefetch record, which `tiermem sim`
  // replays alike.
  void prefetch(Tier tier, ByteRange range = ByteRange::whole()) const;

  // Moves this tensor's unpinned pages out of tier (gpu or dram), writing dirty ones down one
  // tier first. Blocks until done. Returns the number of pages that left the tier; pinned
  // pages stay. Throws Error(io) if a write-back failed (the page then stays in tier), and
  // Error(tier_full) when a gpu page has to go down into a dram tier whose every frame is
  // pinned.
  uint64_t evict(Tier tier) const;

  // Writes every dirty page down to nvme; pages stay resident and become clean. Pages pinned
  // for writing right now are left dirty: they are still being written. Blocks until the
  // writes are confirmed. Throws Error(io) if one failed (the data stays valid above), and
  // Error(tier_full) when a page only in gpu has to pass through a dram tier whose every frame
  // is pinned. In a persistent pool it then publishes a manifest in which only this tensor
  // changes (every other tensor stays as the last flush that covered it left it, even where
  // evictions have written some of its pages since) and returns when that is durable; also
  // Error(io) or Error(system) when syncing or writing the manifest fails.
  void flush() const;

  PageResidency residency(uint64_t page) const;
  std::vector<PageResidency> residency() const;

  // Frees the tensor's frames and NVMe space. Throws Error(busy) while any of its pages is
  // pinned. Waits for the tensor's in-flight I/O. Every copy of the handle becomes stale.
  void release();

 private:
  friend class detail::PoolCore;
  detail::PoolCore* core_ = nullptr;
  uint32_t slot_ = 0;
  uint32_t generation_ = 0;
};

}  // namespace tiermem
