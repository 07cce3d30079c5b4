// support/memory_usage.hpp: what the kernel says a range of this process's addresses costs
// (/proc/self/smaps), so that a tier can report the huge pages it got and tests can check its
// footprint.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tiermem::support {

struct MemoryUsage {
  uint64_t resident = 0;        // bytes in memory (Rss)
  uint64_t anonymous_huge = 0;  // of which anonymous memory on transparent huge pages
};

// Sums the mappings that lie wholly within [start, start + bytes). Reads the whole smaps file:
// milliseconds for a large process, so not for hot paths. Zero when it cannot be read.
MemoryUsage memory_usage(const std::byte* start, uint64_t bytes);

}  // namespace tiermem::support
