// policies/moe.cpp: eviction for mixture-of-experts weights (tiermem's own design): frequency
// with decay decides, and among pages used equally often the most recently used goes.
//
// Streaming a mixture of experts, every token reads each layer's attention and shared
// weights (a loop, often larger than the tier) and k of E routed experts, chosen with a
// skewed popularity that drifts. What a frame saves is a page's accesses per token: 1 for the
// loop's pages, the routing probability for an expert's. So pages are ranked by an access
// count that halves every `period` x capacity accesses (the drift forgets old popularity),
// kept for pages that left too (an expert coming back keeps its rank), saturating at 15. The
// victim is the least counted page, and among equals the most recently used: the loop's
// pages, all counted alike, then keep a fixed part of the loop resident instead of each being
// evicted just before its turn (LRU's fate on a loop), and an expert used once leaves first.
#include <algorithm>
#include <array>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

constexpr uint8_t kMaxCount = 15;

class Moe final : public EvictionPolicy {
 public:
  explicit Moe(uint64_t period) : period_(std::max<uint64_t>(1, period)) {}

  std::string_view name() const noexcept override { return "moe"; }

  void insert(const AccessEvent& event) override {
    // A prefetched page is not counted until it is used: a guess that goes unused must not
    // outrank pages that were.
    const uint8_t count = event.prefetched ? count_of(event.page) : counted(event.page);
    bucket(count).push_front(links_, event.page);
    ++size_;
    if (!event.prefetched) tick();
  }
  void touch(const AccessEvent& event) override {
    const PageId page = event.page;
    bucket(count_of(page)).remove(links_, page);
    bucket(counted(page)).push_front(links_, page);
    tick();
  }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    for (PageList& list : buckets_) {
      for (PageId page = list.front(); page != PageLinks::kNil;
           page = PageList::older(links_, page)) {
        if (filter.evictable(page)) return page;
      }
    }
    return std::nullopt;
  }
  void evict(PageId page) override { remove(page); }
  void remove(PageId page) override {
    bucket(count_of(page)).remove(links_, page);
    --size_;
  }
  uint64_t size() const noexcept override { return size_; }
  void will_access(PageId page) const noexcept override { links_.prefetch(page); }

 private:
  uint8_t count_of(PageId page) const { return page < counts_.size() ? counts_[page] : 0; }
  // Counts one more access of page and returns its count.
  uint8_t counted(PageId page) {
    if (page >= counts_.size()) counts_.resize(page + 1 + counts_.size() / 2, 0);
    uint8_t& count = counts_[page];
    count = std::min<uint8_t>(count + 1, kMaxCount);
    return count;
  }
  PageList& bucket(uint8_t count) { return buckets_[count]; }

  // Every period x (pages tracked) accesses, every count halves; resident pages move to the
  // bucket of their new count, keeping their order within it.
  void tick() {
    if (++accesses_ < period_ * std::max<uint64_t>(size_, 1)) return;
    accesses_ = 0;
    for (uint8_t& count : counts_) count /= 2;
    for (uint8_t from = 1; from <= kMaxCount; ++from) {
      PageList& list = buckets_[from];
      while (!list.empty()) {  // oldest first, so that the newest end up in front (halving
                               // lowers every nonzero count: no page comes back to `from`)
        const PageId page = list.back();
        list.remove(links_, page);
        bucket(counts_[page]).push_front(links_, page);
      }
    }
  }

  const uint64_t period_;
  uint64_t accesses_ = 0;
  uint64_t size_ = 0;
  PageLinks links_;
  std::array<PageList, kMaxCount + 1> buckets_{
      PageList{1},  PageList{2},  PageList{3},  PageList{4},  PageList{5},  PageList{6},
      PageList{7},  PageList{8},  PageList{9},  PageList{10}, PageList{11}, PageList{12},
      PageList{13}, PageList{14}, PageList{15}, PageList{16}};
  PageTable<uint8_t> counts_;  // every page seen, resident or not
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_moe(const Params& params, const Context& context) {
  (void)required_capacity(params, context);
  return std::make_unique<Moe>(params.get_uint("period", 32, 1, 1 << 20));
}

}  // namespace tiermem::policies
