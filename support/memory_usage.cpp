// support/memory_usage.cpp: /proc/self/smaps, summed over a range of addresses.
#include "support/memory_usage.hpp"

#include <cstdio>
#include <fstream>
#include <string>

namespace tiermem::support {

MemoryUsage memory_usage(const std::byte* start, uint64_t bytes) {
  std::ifstream in("/proc/self/smaps");
  const auto first = reinterpret_cast<uintptr_t>(start), end = first + bytes;
  MemoryUsage usage;
  std::string line;
  bool inside = false;
  // A mapping's header line ("low-high perms ..."), then its "Key: value kB" lines.
  auto kib = [&](size_t key_length) { return std::stoull(line.substr(key_length)) * 1024; };
  while (std::getline(in, line)) {
    unsigned long low = 0, high = 0;
    char after = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx%c", &low, &high, &after) == 3 && after == ' ') {
      inside = low >= first && high <= end;
    } else if (inside && line.starts_with("Rss:")) {
      usage.resident += kib(4);
    } else if (inside && line.starts_with("AnonHugePages:")) {
      usage.anonymous_huge += kib(14);
    }
  }
  return usage;
}

}  // namespace tiermem::support
