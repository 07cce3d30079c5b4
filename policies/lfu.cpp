// policies/lfu.cpp: least frequently used eviction, least recently used among equals.
//
// One PageList per access count keeps every operation O(1). Counts saturate at kMaxCount:
// pages accessed that often are all "hot" and ordered by recency among themselves. A page's
// count starts afresh when it is evicted (in-cache LFU).
#include <algorithm>
#include <array>
#include <cassert>
#include <utility>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

constexpr uint8_t kMaxCount = 250;

class Lfu final : public EvictionPolicy {
 public:
  std::string_view name() const noexcept override { return "lfu"; }
  void insert(const AccessEvent& event) override {
    by_count_[0].push_front(links_, event.page);
    ++size_;
  }
  void touch(const AccessEvent& event) override {
    uint8_t count = links_.list_of(event.page);
    list(count).remove(links_, event.page);
    list(count < kMaxCount ? count + 1 : count).push_front(links_, event.page);
  }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    for (const PageList& pages : by_count_) {
      if (auto page = pages.oldest(links_, filter)) return page;
    }
    return std::nullopt;
  }
  void evict(PageId page) override { remove(page); }
  void remove(PageId page) override {
    list(links_.list_of(page)).remove(links_, page);
    --size_;
  }
  uint64_t size() const noexcept override { return size_; }

 private:
  PageList& list(uint8_t count) {
    assert(count >= 1 && count <= kMaxCount);
    return by_count_[std::clamp<uint8_t>(count, 1, kMaxCount) - 1];
  }

  PageLinks links_;
  std::array<PageList, kMaxCount> by_count_ = make_lists();
  uint64_t size_ = 0;

  static std::array<PageList, kMaxCount> make_lists() {
    return []<size_t... I>(std::index_sequence<I...>) {
      return std::array<PageList, kMaxCount>{PageList(static_cast<uint8_t>(I + 1))...};
    }
    (std::make_index_sequence<kMaxCount>());
  }
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lfu(const Params&, const Context&) {
  return std::make_unique<Lfu>();
}

}  // namespace tiermem::policies
