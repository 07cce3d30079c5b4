// policies/arc.cpp: ARC eviction (Megiddo and Modha, FAST 2003).
//
// T1 holds pages seen once recently, T2 pages seen at least twice; B1 and B2 remember the ids
// evicted from each. A miss that hits B1 says T1 is too small: the target size p of T1 grows;
// a hit in B2 shrinks it. Victims come from T1 while it is above p, else from T2.
//
// Unlike the paper, victims are asked for before the incoming page is known (an owner may
// evict ahead of need), so p adapts when the page is inserted, as ZFS's ARC does, and the
// replacement rule uses |T1| > p alone.
#include <algorithm>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

enum : uint8_t { kT1 = 1, kT2 = 2, kB1 = 3, kB2 = 4 };

class Arc final : public EvictionPolicy {
 public:
  explicit Arc(uint64_t capacity) : capacity_(capacity) {}

  std::string_view name() const noexcept override { return "arc"; }
  void insert(const AccessEvent& event) override {
    PageId page = event.page;
    switch (links_.list_of(page)) {
      case kB1:
        target_ = std::min(capacity_, target_ + std::max<uint64_t>(1, b2_.size() / b1_.size()));
        b1_.remove(links_, page);
        t2_.push_front(links_, page);
        break;
      case kB2:
        target_ -= std::min(target_, std::max<uint64_t>(1, b1_.size() / b2_.size()));
        b2_.remove(links_, page);
        t2_.push_front(links_, page);
        break;
      default:
        t1_.push_front(links_, page);
        break;
    }
    // Directory bounds: |T1| + |B1| <= c and |T1| + |T2| + |B1| + |B2| <= 2c.
    if (t1_.size() + b1_.size() > capacity_ && !b1_.empty()) b1_.remove(links_, b1_.back());
    if (t1_.size() + t2_.size() + b1_.size() + b2_.size() > 2 * capacity_) {
      PageList& ghosts = b2_.empty() ? b1_ : b2_;
      if (!ghosts.empty()) ghosts.remove(links_, ghosts.back());
    }
  }
  void touch(const AccessEvent& event) override {
    uint8_t list = links_.list_of(event.page);
    (list == kT1 ? t1_ : t2_).remove(links_, event.page);
    t2_.push_front(links_, event.page);
  }
  std::optional<PageId> victim(const VictimFilter& filter) override {
    bool from_t1 = !t1_.empty() && (t1_.size() > target_ || t2_.empty());
    PageList& first = from_t1 ? t1_ : t2_;
    PageList& second = from_t1 ? t2_ : t1_;
    if (auto page = first.oldest(links_, filter)) return page;
    return second.oldest(links_, filter);
  }
  void evict(PageId page) override {
    bool in_t1 = links_.list_of(page) == kT1;
    (in_t1 ? t1_ : t2_).remove(links_, page);
    (in_t1 ? b1_ : b2_).push_front(links_, page);
  }
  void remove(PageId page) override {
    (links_.list_of(page) == kT1 ? t1_ : t2_).remove(links_, page);
  }
  uint64_t size() const noexcept override { return t1_.size() + t2_.size(); }

 private:
  uint64_t capacity_;
  uint64_t target_ = 0;  // p: the size T1 should have
  PageLinks links_;
  PageList t1_{kT1};
  PageList t2_{kT2};
  PageList b1_{kB1};
  PageList b2_{kB2};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_arc(const Params& params, const Context& context) {
  return std::make_unique<Arc>(required_capacity(params, context));
}

}  // namespace tiermem::policies
