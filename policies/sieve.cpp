// policies/sieve.cpp: SIEVE eviction (Zhang et al., NSDI 2024): a FIFO queue with a visited
// bit per page and a hand that moves from the oldest page towards the newest, clearing the bits
// it passes and stopping at the first unvisited page. Unlike CLOCK, pages that survive stay
// where they are (no reinsertion at the head), so new pages that are not reused leave quickly.
#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

class Sieve final : public EvictionPolicy {
 public:
  std::string_view name() const noexcept override { return "sieve"; }
  void insert(const AccessEvent& event) override {
    queue_.push_front(links_, event.page);
    links_[event.page].bits = 0;
  }
  void touch(const AccessEvent& event) override { links_[event.page].bits = 1; }
  void will_access(PageId page) const noexcept override { links_.prefetch(page); }

  // From the hand towards the newest page, then around from the oldest: at most two laps (the
  // first clears every bit it passes). Peeks: the hand stays at the page it returns.
  std::optional<PageId> victim(const VictimFilter& filter) override {
    if (queue_.empty()) return std::nullopt;
    if (hand_ == PageLinks::kNil) hand_ = queue_.back();
    for (uint64_t step = 0, limit = 2 * queue_.size() + 1; step < limit; ++step) {
      PageLinks::Node& node = links_[hand_];
      if (node.bits == 0 && filter.evictable(hand_)) return hand_;
      node.bits = 0;
      advance();
    }
    return std::nullopt;
  }
  void evict(PageId page) override { remove(page); }
  void remove(PageId page) override {
    if (page == hand_) advance();
    if (page == hand_) hand_ = PageLinks::kNil;  // it was the only page
    queue_.remove(links_, page);
  }
  uint64_t size() const noexcept override { return queue_.size(); }

 private:
  // The hand moves towards the newest page, and past it back to the oldest.
  void advance() {
    hand_ = PageList::newer(links_, hand_);
    if (hand_ == PageLinks::kNil) hand_ = queue_.back();
  }

  PageLinks links_;
  PageList queue_{1};
  PageId hand_ = PageLinks::kNil;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_sieve(const Params&, const Context&) {
  return std::make_unique<Sieve>();
}

}  // namespace tiermem::policies
