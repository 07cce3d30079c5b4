// sim/page_map.hpp: dense page ids of a trace (tensor by tensor) and the oracle of next uses.
#pragma once

#include <cstdint>
#include <vector>

#include "tiermem/trace.hpp"

namespace tiermem::sim {

class PageMap {
 public:
  explicit PageMap(const Trace& trace) : trace_(trace), base_(trace.tensor_pages.size() + 1, 0) {
    for (size_t t = 0; t < trace.tensor_pages.size(); ++t) {
      base_[t + 1] = base_[t] + trace.tensor_pages[t];
    }
  }

  uint64_t pages() const noexcept { return base_.back(); }
  uint64_t page(const TraceAccess& access, uint32_t k) const noexcept {
    return base_[access.tensor] + access.first + k;
  }

  // For each page access in order (every page of every access), the position of the next
  // access to the same page, or -1. With first, also each page's first access position.
  std::vector<int64_t> next_access(std::vector<int64_t>* first = nullptr) const {
    std::vector<int64_t> next(trace_.page_accesses(), -1);
    std::vector<int64_t> upcoming(pages(), -1);
    int64_t position = static_cast<int64_t>(next.size());
    for (size_t i = trace_.accesses.size(); i-- > 0;) {
      const TraceAccess& access = trace_.accesses[i];
      for (uint32_t k = access.count; k-- > 0;) {
        uint64_t p = page(access, k);
        next[static_cast<size_t>(--position)] = upcoming[p];
        upcoming[p] = position;
      }
    }
    if (first != nullptr) *first = std::move(upcoming);
    return next;
  }

 private:
  const Trace& trace_;
  std::vector<uint64_t> base_;
};

}  // namespace tiermem::sim
