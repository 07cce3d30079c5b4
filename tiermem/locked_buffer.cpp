// tiermem/locked_buffer.cpp: LockedBuffer, served by a private jemalloc arena whose chunks are
// page-locked.
//
// Why jemalloc here: callers ask for many buffers of mixed sizes (4 KiB bounce buffers for the
// unaligned ends of O_DIRECT I/O, multi-MiB staging buffers), and locking memory is costly
// (mlock faults in every page; registering 1 GiB with CUDA takes most of a second). An arena
// with our extent hooks gets each chunk from us, mapped 2 MiB-aligned, advised for huge pages
// and locked, then packs buffers into chunks and reuses them. The hooks refuse to purge or
// unmap, so a chunk once locked stays locked and is handed out again. jemalloc lives in a
// private shared object that exports only mallocx, dallocx and mallctl (jemalloc_private.cpp),
// so the application's malloc is never replaced.
#include "tiermem/locked_buffer.hpp"

#include <fmt/format.h>
#include <jemalloc/jemalloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "support/align.hpp"
#include "support/log.hpp"
#include "tiermem/error.hpp"

namespace tiermem {

namespace {

constexpr size_t kHugePage = 2u << 20;
constexpr size_t kAlign = 4096;

struct Chunk {
  size_t size;
  bool locked;
};

// Chunks handed to jemalloc, by start address. Guarded by chunks_mutex.
std::mutex chunks_mutex;
std::map<uintptr_t, Chunk>& chunks() {
  static std::map<uintptr_t, Chunk> map;
  return map;
}

std::map<uintptr_t, Chunk>::iterator chunk_of(uintptr_t address) {
  auto& map = chunks();
  auto it = map.upper_bound(address);
  if (it == map.begin()) return map.end();
  --it;
  return address < it->first + it->second.size ? it : map.end();
}

void* hook_alloc(extent_hooks_t*, void* new_addr, size_t size, size_t alignment, bool* zero,
                 bool* commit, unsigned) {
  if (new_addr != nullptr) return nullptr;  // chunks cannot be placed at a chosen address
  size_t align = std::max(alignment, kHugePage);
  void* raw =
      mmap(nullptr, size + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  auto start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = support::round_up(start, align);
  if (aligned > start) munmap(raw, aligned - start);
  if (uintptr_t tail = start + align - aligned; tail > 0) {
    munmap(reinterpret_cast<void*>(aligned + size), tail);
  }
  auto* chunk = reinterpret_cast<void*>(aligned);
  madvise(chunk, size, MADV_HUGEPAGE);
  bool locked = mlock(chunk, size) == 0;
  if (!locked) {
    support::log().warn("locked buffers: cannot page-lock {} bytes ({}); they stay pageable", size,
                        std::strerror(errno));
  }
  {
    std::lock_guard lock(chunks_mutex);
    chunks().emplace(aligned, Chunk{size, locked});
  }
  *zero = true;
  *commit = true;
  return chunk;
}

// true means "not done": jemalloc then keeps the memory and offers it again.
bool hook_keep(extent_hooks_t*, void*, size_t, bool, unsigned) {
  return true;
}
bool hook_keep_range(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  return true;
}
bool hook_commit(extent_hooks_t*, void*, size_t, size_t, size_t, unsigned) {
  return false;
}

void hook_destroy(extent_hooks_t*, void* addr, size_t size, bool, unsigned) {
  munmap(addr, size);
  std::lock_guard lock(chunks_mutex);
  chunks().erase(reinterpret_cast<uintptr_t>(addr));
}

bool hook_split(extent_hooks_t*, void*, size_t, size_t, size_t, bool, unsigned) {
  return false;
}

// Extents merge only within one chunk, so every buffer lies in one chunk.
bool hook_merge(extent_hooks_t*, void* a, size_t, void* b, size_t, bool, unsigned) {
  std::lock_guard lock(chunks_mutex);
  return chunk_of(reinterpret_cast<uintptr_t>(a)) != chunk_of(reinterpret_cast<uintptr_t>(b));
}

extent_hooks_t hooks = {
    hook_alloc,      hook_keep,       hook_destroy, hook_commit, hook_keep_range,
    hook_keep_range, hook_keep_range, hook_split,   hook_merge,
};

unsigned arena_index() {
  static const unsigned index = [] {
    unsigned created = 0;
    size_t size = sizeof(created);
    extent_hooks_t* hooks_ptr = &hooks;
    if (int err = mallctl("arenas.create", &created, &size, &hooks_ptr, sizeof(hooks_ptr));
        err != 0) {
      throw Error(
          Errc::system,
          fmt::format("locked buffers: creating the jemalloc arena: {}", std::strerror(err)), err);
    }
    return created;
  }();
  return index;
}

}  // namespace

LockedBuffer LockedBuffer::allocate(size_t bytes) {
  if (bytes == 0) throw Error(Errc::invalid_argument, "LockedBuffer of 0 bytes");
  size_t size = support::round_up(bytes, kAlign);
  void* data =
      mallocx(size, MALLOCX_ARENA(arena_index()) | MALLOCX_ALIGN(kAlign) | MALLOCX_TCACHE_NONE);
  if (data == nullptr) {
    throw Error(Errc::system, fmt::format("cannot allocate a locked buffer of {} bytes", bytes),
                ENOMEM);
  }
  LockedBuffer buffer;
  buffer.data_ = static_cast<std::byte*>(data);
  buffer.size_ = size;
  std::lock_guard lock(chunks_mutex);
  auto chunk = chunk_of(reinterpret_cast<uintptr_t>(data));
  buffer.locked_ = chunk != chunks().end() && chunk->second.locked;
  return buffer;
}

LockedBuffer::LockedBuffer(LockedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      locked_(std::exchange(other.locked_, false)) {}

LockedBuffer& LockedBuffer::operator=(LockedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) dallocx(data_, MALLOCX_TCACHE_NONE);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    locked_ = std::exchange(other.locked_, false);
  }
  return *this;
}

LockedBuffer::~LockedBuffer() {
  if (data_ != nullptr) dallocx(data_, MALLOCX_TCACHE_NONE);
  data_ = nullptr;
}

}  // namespace tiermem
