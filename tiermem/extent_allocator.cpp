// tiermem/extent_allocator.cpp: first-fit over an ordered map of free runs, merged on free.
#include "tiermem/extent_allocator.hpp"

#include <cassert>

namespace tiermem::detail {

ExtentAllocator::ExtentAllocator(uint64_t units) : total_(units), free_(units) {
  if (units > 0) free_runs_.emplace(0, units);
}

std::optional<uint64_t> ExtentAllocator::allocate(uint64_t count) {
  assert(count > 0);
  for (auto it = free_runs_.begin(); it != free_runs_.end(); ++it) {
    if (it->second < count) continue;
    uint64_t first = it->first;
    uint64_t rest = it->second - count;
    free_runs_.erase(it);
    if (rest > 0) free_runs_.emplace(first + count, rest);
    free_ -= count;
    return first;
  }
  return std::nullopt;
}

bool ExtentAllocator::allocate_runs(uint64_t count, std::vector<Extent>& out) {
  if (count > free_) return false;
  while (count > 0) {
    auto it = free_runs_.begin();
    uint64_t take = it->second < count ? it->second : count;
    out.push_back({it->first, take});
    uint64_t first = it->first + take;
    uint64_t rest = it->second - take;
    free_runs_.erase(it);
    if (rest > 0) free_runs_.emplace(first, rest);
    free_ -= take;
    count -= take;
  }
  return true;
}

bool ExtentAllocator::take(uint64_t first, uint64_t count) {
  assert(count > 0);
  auto it = free_runs_.upper_bound(first);
  if (it == free_runs_.begin()) return false;
  --it;  // the free run starting at or before first
  const uint64_t run_first = it->first, run_end = it->first + it->second;
  if (first + count > run_end) return false;
  free_runs_.erase(it);
  if (first > run_first) free_runs_.emplace(run_first, first - run_first);
  if (first + count < run_end) free_runs_.emplace(first + count, run_end - first - count);
  free_ -= count;
  return true;
}

void ExtentAllocator::free(uint64_t first, uint64_t count) {
  assert(count > 0 && first + count <= total_);
  free_ += count;
  auto next = free_runs_.lower_bound(first);
  assert((next == free_runs_.end() || first + count <= next->first) && "double free");
  if (next != free_runs_.begin()) {
    auto prev = std::prev(next);
    assert(prev->first + prev->second <= first && "double free");
    if (prev->first + prev->second == first) {
      first = prev->first;
      count += prev->second;
      free_runs_.erase(prev);
    }
  }
  if (next != free_runs_.end() && first + count == next->first) {
    count += next->second;
    free_runs_.erase(next);
  }
  free_runs_.emplace(first, count);
}

}  // namespace tiermem::detail
