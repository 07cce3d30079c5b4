// sim/page_map.hpp: dense page ids of a trace (tensor by tensor) and the oracle of next uses.
#pragma once

#include <cstdint>
#include <unordered_map>
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
    if (first == nullptr && pages() > next.size()) {
      // Tensor sizes come from the file and may dwarf what is accessed: a table indexed by
      // page would then cost more than the answer.
      std::unordered_map<uint64_t, int64_t> upcoming;
      fill_next(next,
                [&](uint64_t p) -> int64_t& { return upcoming.try_emplace(p, -1).first->second; });
      return next;
    }
    std::vector<int64_t> upcoming(pages(), -1);
    fill_next(next, [&](uint64_t p) -> int64_t& { return upcoming[p]; });
    if (first != nullptr) *first = std::move(upcoming);
    return next;
  }

 private:
  // Walks the page accesses backwards; upcoming(page) is the page's slot for the position of
  // its next access, -1 until one is seen.
  template <class Upcoming>
  void fill_next(std::vector<int64_t>& next, Upcoming&& upcoming) const {
    int64_t position = static_cast<int64_t>(next.size());
    for (size_t i = trace_.accesses.size(); i-- > 0;) {
      const TraceAccess& access = trace_.accesses[i];
      if (access.op == TraceOp::prefetch) continue;
      for (uint32_t k = access.count; k-- > 0;) {
        int64_t& slot = upcoming(page(access, k));
        next[static_cast<size_t>(--position)] = slot;
        slot = position;
      }
    }
  }

  const Trace& trace_;
  std::vector<uint64_t> base_;
};

}  // namespace tiermem::sim
