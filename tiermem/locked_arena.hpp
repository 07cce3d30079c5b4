// tiermem/locked_arena.hpp: the process-wide store of page-locked memory behind LockedBuffer.
//
// Chunks are mapped 2 MiB-aligned, advised for huge pages and locked once, and never given
// back: a freed run is handed out again, so the cost of locking (mlock faults in every page;
// registering memory with CUDA takes most of a second per GiB) is paid once per chunk. Runs
// are whole 4 KiB units, taken first fit within the chunks.
//
// Why not jemalloc (which served LockedBuffer until issue 12): Debian's jemalloc, shared or
// static PIC, keeps its thread state in 2.6 KiB of initial-exec TLS. glibc can give a library
// loaded after start (dlopen: Python's ctypes and extension modules, plugins) only its small
// static TLS surplus, about 1.5 KiB, so dlopen("libtiermem.so") failed with "cannot allocate
// memory in static TLS block" unless GLIBC_TUNABLES enlarged it. Loading jemalloc lazily would
// fail the same way in every process, and building our own jemalloc without initial-exec TLS
// would add a vendored dependency. LockedBuffer's needs are narrow (few, long-lived buffers
// of 4 KiB to many MiB), so this small allocator does the job and uses no TLS at all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

#include "tiermem/extent_allocator.hpp"

namespace tiermem::detail {

class LockedArena {
 public:
  static constexpr size_t kUnit = 4096;         // runs are whole units, aligned to one
  static constexpr size_t kChunk = 2ull << 20;  // chunks are multiples of this, aligned to it

  struct Run {
    std::byte* data = nullptr;
    size_t size = 0;      // a multiple of kUnit
    bool locked = false;  // the chunk could be page-locked
  };

  // The arena every LockedBuffer uses. Never destroyed, so that buffers freed while static
  // objects are destroyed still find it.
  static LockedArena& instance();

  // A run of at least bytes (> 0), rounded up to kUnit, from a chunk with room, else from a new
  // chunk of round_up(bytes, kChunk). Throws Error(system) naming the size when mmap fails.
  // A chunk that cannot be locked (RLIMIT_MEMLOCK) is used pageable, with one warning logged
  // per process. Thread-safe.
  Run allocate(size_t bytes);
  // Gives a run back for reuse; it must have come from allocate() and not been freed since.
  // Thread-safe; never blocks on anything but the arena's mutex.
  void free(std::byte* data, size_t size) noexcept;

  // Bytes mapped for chunks so far.
  size_t mapped_bytes() const;

 private:
  struct Chunk {
    size_t size;
    bool locked;
    ExtentAllocator units;
  };

  mutable std::mutex mutex_;
  std::map<uintptr_t, Chunk> chunks_;  // by start address; guarded by mutex_
  size_t mapped_ = 0;                  // guarded by mutex_
};

}  // namespace tiermem::detail
