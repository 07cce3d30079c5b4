// policies/s3fifo.cpp: S3-FIFO eviction (Yang et al., SOSP 2023).
//
// Three FIFO queues: S (small, about small x capacity) takes new pages, M (main) takes pages
// that proved themselves, G (ghost) remembers ids evicted from S. Each resident page has a
// 2-bit access count. Evicting from S moves a page accessed at least `move` times to M, else
// evicts it (its id goes to G). Evicting from M reinserts a page with a nonzero count at M's
// head with the count decremented, else evicts it. A page that comes back while in G enters M.
// These moves happen while looking for a victim: they are aging, never dropping.
#include <algorithm>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

enum : uint8_t { kSmall = 1, kMain = 2, kGhost = 3 };
constexpr uint8_t kMaxCount = 3;

class S3Fifo final : public EvictionPolicy {
 public:
  S3Fifo(uint64_t small_limit, uint64_t ghost_limit, uint8_t move)
      : small_limit_(small_limit), ghost_limit_(ghost_limit), move_(move) {}

  std::string_view name() const noexcept override { return "s3fifo"; }
  void insert(const AccessEvent& event) override {
    bool ghost = links_.list_of(event.page) == kGhost;
    if (ghost) ghost_.remove(links_, event.page);
    links_[event.page].bits = 0;
    (ghost ? main_ : small_).push_front(links_, event.page);
    ghost_.trim(links_, ghost_limit_);
  }
  void touch(const AccessEvent& event) override {
    uint8_t& count = links_[event.page].bits;
    count = std::min<uint8_t>(count + 1, kMaxCount);
  }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    bool from_small = small_.size() >= small_limit_ || main_.empty();
    if (from_small) {
      if (auto page = scan_small(filter)) return page;
      return scan_main(filter);
    }
    if (auto page = scan_main(filter)) return page;
    return scan_small(filter);
  }
  void evict(PageId page) override {
    if (links_.list_of(page) == kMain) {
      main_.remove(links_, page);
      return;
    }
    small_.remove(links_, page);
    // G may hold one id over its limit until the next insert, which looks the incoming page
    // up before trimming: evicting for a page must not forget that very page.
    ghost_.push_bounded(links_, page, ghost_limit_);
  }
  void remove(PageId page) override {
    (links_.list_of(page) == kMain ? main_ : small_).remove(links_, page);
  }
  uint64_t size() const noexcept override { return small_.size() + main_.size(); }

 private:
  // From S's tail: promote pages accessed often enough, return the first evictable other one.
  std::optional<PageId> scan_small(const VictimFilter& filter) {
    PageId page = small_.back();
    while (page != PageLinks::kNil) {
      PageId next = PageList::newer(links_, page);
      PageLinks::Node& node = links_[page];
      if (node.bits >= move_) {
        node.bits = 0;
        small_.remove(links_, page);
        main_.push_front(links_, page);
      } else if (filter.evictable(page)) {
        return page;
      }
      page = next;
    }
    return std::nullopt;
  }
  // From M's tail: reinsert pages with a nonzero count (decremented), return the first
  // evictable page whose count is zero. Every count drops on each pass, so kMaxCount + 1
  // passes see every page with a zero count.
  std::optional<PageId> scan_main(const VictimFilter& filter) {
    for (uint64_t step = 0, limit = (kMaxCount + 1) * main_.size(); step < limit; ++step) {
      PageId page = main_.back();
      PageLinks::Node& node = links_[page];
      if (node.bits == 0 && filter.evictable(page)) return page;
      if (node.bits > 0) --node.bits;
      main_.move_to_front(links_, page);
    }
    return std::nullopt;
  }

  uint64_t small_limit_;
  uint64_t ghost_limit_;
  uint8_t move_;
  PageLinks links_;
  PageList small_{kSmall};
  PageList main_{kMain};
  PageList ghost_{kGhost};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_s3fifo(const Params& params, const Context& context) {
  uint64_t capacity = required_capacity(params, context);
  double small = params.get_double("small", 0.1, 0.01, 0.9);
  double ghost = params.get_double("ghost", 0.9, 0.0, 8.0);
  auto move = static_cast<uint8_t>(params.get_uint("move", 2, 1, kMaxCount));
  return std::make_unique<S3Fifo>(std::max<uint64_t>(1, static_cast<uint64_t>(small * capacity)),
                                  static_cast<uint64_t>(ghost * capacity), move);
}

}  // namespace tiermem::policies
