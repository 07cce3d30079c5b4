// tiermem/locked_arena.cpp: page-locked chunks, cut into runs first fit and never unmapped.
#include "tiermem/locked_arena.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "support/align.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

// Maps size bytes aligned to kChunk (so that transparent huge pages can back them whole).
std::byte* map_chunk(size_t size) {
  constexpr size_t align = LockedArena::kChunk;
  void* raw =
      mmap(nullptr, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    int err = errno;
    throw Error(
        Errc::system,
        fmt::format("locked buffers: cannot map a chunk of {} bytes: {}", size, std::strerror(err)),
        err);
  }
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = support::round_up(start, align);
  if (aligned > start) munmap(raw, aligned - start);
  if (uintptr_t tail = start + align - aligned; tail > 0) {
    munmap(reinterpret_cast<void*>(aligned + size), tail);
  }
  return reinterpret_cast<std::byte*>(aligned);
}

}  // namespace

LockedArena& LockedArena::instance() {
  static LockedArena* arena = new LockedArena;  // never destroyed: see the header
  return *arena;
}

LockedArena::Run LockedArena::allocate(size_t bytes) {
  assert(bytes > 0);
  size_t units = support::round_up(bytes, kUnit) / kUnit;
  {
    std::lock_guard lock(mutex_);
    for (auto& [start, chunk] : chunks_) {
      if (chunk.units.free_units() < units) continue;
      if (auto first = chunk.units.allocate(units)) {
        return {reinterpret_cast<std::byte*>(start + *first * kUnit), units * kUnit, chunk.locked};
      }
    }
  }
  // Mapping and locking take long (mlock faults every page in): done outside the mutex, so
  // that other threads' buffers are not held up.
  size_t size = support::round_up(units * kUnit, kChunk);
  std::byte* chunk = map_chunk(size);
  madvise(chunk, size, MADV_HUGEPAGE);
  bool locked = mlock(chunk, size) == 0;
  if (!locked) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) {
      support::log().warn(
          "locked buffers: cannot page-lock a chunk of {} bytes ({}; raise RLIMIT_MEMLOCK); "
          "buffers stay pageable",
          size, std::strerror(errno));
    }
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = chunks_.emplace(reinterpret_cast<uintptr_t>(chunk),
                                        Chunk{size, locked, ExtentAllocator(size / kUnit)});
  assert(inserted);
  mapped_ += size;
  uint64_t first = *it->second.units.allocate(units);
  return {chunk + first * kUnit, units * kUnit, locked};
}

void LockedArena::free(std::byte* data, size_t size) noexcept {
  auto address = reinterpret_cast<uintptr_t>(data);
  std::lock_guard lock(mutex_);
  auto it = chunks_.upper_bound(address);
  assert(it != chunks_.begin());
  --it;
  assert(address + size <= it->first + it->second.size);
  it->second.units.free((address - it->first) / kUnit, size / kUnit);
}

size_t LockedArena::mapped_bytes() const {
  std::lock_guard lock(mutex_);
  return mapped_;
}

}  // namespace tiermem::detail
