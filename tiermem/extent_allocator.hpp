// tiermem/extent_allocator.hpp: first-fit allocation of runs of units from a fixed range.
//
// Used twice: for the page-id space (every tensor gets one contiguous run of ids) and for the
// page slots of each NVMe directory (a tensor's slots may come as several runs). Not
// thread-safe: the owner serialises calls.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace tiermem::detail {

struct Extent {
  uint64_t first = 0;
  uint64_t count = 0;
};

class ExtentAllocator {
 public:
  explicit ExtentAllocator(uint64_t units);

  // One contiguous run of count units, lowest address first; nullopt when no free run is long
  // enough. count must be positive.
  std::optional<uint64_t> allocate(uint64_t count);
  // count units as few runs as first fit gives, appended to out; false, with nothing taken,
  // when fewer than count units are free.
  bool allocate_runs(uint64_t count, std::vector<Extent>& out);
  // Takes the given run, which must lie within one free run: false, with nothing taken,
  // otherwise. For restoring allocations made before (a persistent pool's slots).
  bool take(uint64_t first, uint64_t count);
  // Gives a run back; it must have been allocated and not freed since.
  void free(uint64_t first, uint64_t count);

  uint64_t total_units() const noexcept { return total_; }
  uint64_t free_units() const noexcept { return free_; }

 private:
  std::map<uint64_t, uint64_t> free_runs_;  // first -> count, never adjacent (merged on free)
  uint64_t total_;
  uint64_t free_;
};

}  // namespace tiermem::detail
