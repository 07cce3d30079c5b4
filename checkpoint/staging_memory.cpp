// checkpoint/staging_memory.cpp: StagingMemory.
#include "checkpoint/staging_memory.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "support/align.hpp"
#include "tiermem/error.hpp"

namespace tiermem::checkpoint {

namespace {
constexpr uint64_t kHugePage = 2 << 20;
}

StagingMemory::StagingMemory(uint64_t bytes, uint32_t count)
    : buffer_bytes_(support::round_up(bytes, kHugePage)), count_(count) {
  // One huge page more than needed, so that the buffers can start on a 2 MiB boundary.
  mapped_ = static_cast<size_t>(buffer_bytes_ * count_ + kHugePage);
  mapping_ = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    const int error = errno;
    throw Error(Errc::system,
                fmt::format("mapping {} bytes of checkpoint staging memory: {} (errno {})", mapped_,
                            std::strerror(error), error),
                error);
  }
  base_ = reinterpret_cast<std::byte*>(
      support::round_up(reinterpret_cast<uintptr_t>(mapping_), kHugePage));
  // Advice only: where transparent huge pages are off, the buffers are ordinary pages.
  (void)madvise(base_, static_cast<size_t>(buffer_bytes_ * count_), MADV_HUGEPAGE);
}

StagingMemory::~StagingMemory() {
  munmap(mapping_, mapped_);
}

}  // namespace tiermem::checkpoint
