// policies/belady.cpp: Belady's MIN: evict the page whose next use is farthest away.
//
// Optimal for demand paging when next_use is exact (a trace's oracle); with a schedule's
// prediction it is as good as the prediction. Pages are kept in a binary max-heap on next_use
// indexed by page id, so accesses cost O(log n). When the top is not evictable, the heap is
// searched best-first, which visits only the pages that outrank the victim.
#include <cassert>
#include <queue>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/huge_pages.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

constexpr uint32_t kAbsent = UINT32_MAX;

class Belady final : public EvictionPolicy {
 public:
  std::string_view name() const noexcept override { return "belady"; }
  bool wants_next_use() const noexcept override { return true; }

  void insert(const AccessEvent& event) override {
    if (event.page >= slot_.size()) slot_.resize(event.page + 1 + slot_.size() / 2, kAbsent);
    assert(slot_[event.page] == kAbsent);
    slot_[event.page] = static_cast<uint32_t>(heap_.size());
    heap_.push_back({event.next_use, event.page});
    sift_up(heap_.size() - 1);
  }
  void touch(const AccessEvent& event) override {
    uint32_t at = slot_[event.page];
    assert(at != kAbsent);
    uint64_t old = heap_[at].next_use;
    heap_[at].next_use = event.next_use;
    if (event.next_use > old) {
      sift_up(at);
    } else {
      sift_down(at);
    }
  }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    if (heap_.empty()) return std::nullopt;
    if (filter.evictable(heap_[0].page)) return heap_[0].page;
    // Best-first over the heap: a node is a candidate only after its parent was refused.
    auto later = [this](uint32_t a, uint32_t b) { return heap_[a].next_use < heap_[b].next_use; };
    std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(later)> frontier(later);
    frontier.push(0);
    while (!frontier.empty()) {
      uint32_t at = frontier.top();
      frontier.pop();
      if (filter.evictable(heap_[at].page)) return heap_[at].page;
      for (uint64_t child = 2 * uint64_t{at} + 1; child <= 2 * uint64_t{at} + 2; ++child) {
        if (child < heap_.size()) frontier.push(static_cast<uint32_t>(child));
      }
    }
    return std::nullopt;
  }
  void evict(PageId page) override { remove(page); }
  void remove(PageId page) override {
    uint32_t at = slot_[page];
    assert(at != kAbsent);
    slot_[page] = kAbsent;
    Entry last = heap_.back();
    heap_.pop_back();
    if (at == heap_.size()) return;
    heap_[at] = last;
    slot_[last.page] = at;
    sift_up(at);
    sift_down(slot_[last.page]);
  }
  uint64_t size() const noexcept override { return heap_.size(); }

 private:
  struct Entry {
    uint64_t next_use;
    PageId page;
  };

  void place(uint64_t at, const Entry& entry) {
    heap_[at] = entry;
    slot_[entry.page] = static_cast<uint32_t>(at);
  }
  void sift_up(uint64_t at) {
    Entry entry = heap_[at];
    while (at > 0) {
      uint64_t parent = (at - 1) / 2;
      if (heap_[parent].next_use >= entry.next_use) break;
      place(at, heap_[parent]);
      at = parent;
    }
    place(at, entry);
  }
  void sift_down(uint64_t at) {
    Entry entry = heap_[at];
    for (;;) {
      uint64_t child = 2 * at + 1;
      if (child >= heap_.size()) break;
      if (child + 1 < heap_.size() && heap_[child + 1].next_use > heap_[child].next_use) ++child;
      if (heap_[child].next_use <= entry.next_use) break;
      place(at, heap_[child]);
      at = child;
    }
    place(at, entry);
  }

  PageTable<Entry> heap_;
  PageTable<uint32_t> slot_;  // page -> index in heap_, kAbsent when untracked
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_belady(const Params&, const Context&) {
  return std::make_unique<Belady>();
}

}  // namespace tiermem::policies
