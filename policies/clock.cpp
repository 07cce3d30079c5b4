// policies/clock.cpp: CLOCK (second chance) eviction.
//
// The ring is a PageList whose back is under the hand: advancing the hand past a page moves it
// to the front. An access sets the page's reference bit; the hand clears set bits and stops at
// the first evictable page whose bit is clear.
#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class Clock final : public EvictionPolicy {
 public:
  std::string_view name() const noexcept override { return "clock"; }
  void insert(const AccessEvent& event) override {
    links_[event.page].bits = 0;
    ring_.push_front(links_, event.page);
  }
  void touch(const AccessEvent& event) override { links_[event.page].bits = 1; }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    // Two turns of the hand: the first may only clear bits; after it every bit is clear.
    for (uint64_t step = 0, limit = 2 * ring_.size(); step < limit; ++step) {
      PageId page = ring_.back();
      PageLinks::Node& node = links_[page];
      if (node.bits == 0 && filter.evictable(page)) return page;
      node.bits = 0;
      ring_.move_to_front(links_, page);
    }
    return std::nullopt;
  }
  void evict(PageId page) override { ring_.remove(links_, page); }
  void remove(PageId page) override { ring_.remove(links_, page); }
  uint64_t size() const noexcept override { return ring_.size(); }

 private:
  PageLinks links_;
  PageList ring_{1};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_clock(const Params&, const Context&) {
  return std::make_unique<Clock>();
}

}  // namespace tiermem::policies
