// policies/arc.cpp: ARC eviction (Megiddo and Modha, FAST 2003).
//
// T1 holds pages seen once recently, T2 pages seen at least twice; B1 and B2 remember the ids
// evicted from each. A miss that hits B1 says T1 is too small: the target size p of T1 grows;
// a hit in B2 shrinks it. Victims come from T1 while it is above p, else from T2.
//
// adapt=room (the default) follows the paper as libCacheSim implements it, miss for miss: the
// owner names the page it makes room for (make_room_for), so a remembered page adapts p before
// REPLACE picks the victim, and the directory is bounded as the victim leaves (case IV). p is a
// real number: the step is |B2| / |B1| (or |B1| / |B2|), unrounded.
// adapt=insert is tiermem's earlier variant, for owners that evict ahead of need: victims are
// chosen without knowing the incoming page, p adapts by a whole step when the page is inserted,
// as ZFS's ARC does, and the directory is bounded then.
#include <algorithm>
#include <cmath>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

// kBack: remembered in B1 or B2, p adapted to it, room being made for it: T2 when inserted.
enum : uint8_t { kT1 = 1, kT2 = 2, kB1 = 3, kB2 = 4, kBack = 5 };

class Arc final : public EvictionPolicy {
 public:
  Arc(uint64_t capacity, bool adapt_on_insert)
      : capacity_(capacity), adapt_on_insert_(adapt_on_insert) {}

  std::string_view name() const noexcept override { return "arc"; }

  void insert(const AccessEvent& event) override {
    const PageId page = event.page;
    if (page == incoming_) incoming_ = PageLinks::kNil;
    switch (links_.list_of(page)) {
      case kB1:
      case kB2:  // remembered, and a frame was free (or adapt=insert)
        adapt(page);
        t2_.push_front(links_, page);
        break;
      case kBack:
        back_.remove(links_, page);
        t2_.push_front(links_, page);
        break;
      default:
        t1_.push_front(links_, page);
        break;
    }
    if (adapt_on_insert_) bound_directory();
  }

  void touch(const AccessEvent& event) override {
    uint8_t list = links_.list_of(event.page);
    (list == kT1 ? t1_ : t2_).remove(links_, event.page);
    t2_.push_front(links_, event.page);
  }

  void make_room_for(PageId page) override {
    if (!adapt_on_insert_) incoming_ = page;
  }

  std::optional<PageId> victim(const VictimFilter& filter) override {
    const bool from_t1 = adapt_on_insert_ ? replace_from_t1(target_, false) : victim_from_t1();
    PageList& first = from_t1 ? t1_ : t2_;
    PageList& second = from_t1 ? t2_ : t1_;
    if (auto page = first.oldest(links_, filter)) return page;
    return second.oldest(links_, filter);
  }

  void evict(PageId page) override {
    const bool in_t1 = links_.list_of(page) == kT1;
    const uint8_t incoming = links_.list_of(incoming_);
    if (!adapt_on_insert_ && incoming != kB1 && incoming != kB2 && incoming != kBack) {
      // Case IV, a page not remembered: the directory makes room for its id first.
      if (t1_.size() + b1_.size() >= capacity_) {
        if (b1_.empty()) return (in_t1 ? t1_ : t2_).remove(links_, page);  // T1 alone is c
        b1_.remove(links_, b1_.back());
      } else if (t1_.size() + t2_.size() + b1_.size() + b2_.size() >= 2 * capacity_ &&
                 !b2_.empty()) {
        b2_.remove(links_, b2_.back());
      }
    }
    if (incoming == kB1 || incoming == kB2) {
      adapt(incoming_);
      back_.push_front(links_, incoming_);
    }
    (in_t1 ? t1_ : t2_).remove(links_, page);
    (in_t1 ? b1_ : b2_).push_front(links_, page);
  }

  void remove(PageId page) override {
    (links_.list_of(page) == kT1 ? t1_ : t2_).remove(links_, page);
  }

  uint64_t size() const noexcept override { return t1_.size() + t2_.size(); }

 private:
  // The paper's REPLACE with target p: whether T1's oldest goes. from_b2: the incoming page is
  // remembered in B2, which breaks a tie |T1| = p towards T1.
  bool replace_from_t1(double p, bool from_b2) const {
    const double t1 = static_cast<double>(t1_.size());
    return (!t1_.empty() && (t1 > p || (t1 == p && from_b2))) || t2_.empty();
  }

  bool victim_from_t1() const {
    switch (links_.list_of(incoming_)) {
      case kB1:
      case kB2:
        return replace_from_t1(adapted_target(incoming_), links_.list_of(incoming_) == kB2);
      case kBack:  // adapted already, by an earlier eviction for it
        return replace_from_t1(target_, from_b2_);
      default:  // case IV; with B1 empty, T1 alone holds c pages' history: its oldest goes
        return (t1_.size() + b1_.size() >= capacity_ && b1_.empty()) ||
               replace_from_t1(target_, false);
    }
  }

  // p after a miss on page, remembered in B1 or B2.
  double adapted_target(PageId page) const {
    const bool in_b1 = links_.list_of(page) == kB1;
    const double ratio = in_b1 ? static_cast<double>(b2_.size()) / static_cast<double>(b1_.size())
                               : static_cast<double>(b1_.size()) / static_cast<double>(b2_.size());
    const double step = std::max(1.0, adapt_on_insert_ ? std::floor(ratio) : ratio);
    return in_b1 ? std::min(target_ + step, static_cast<double>(capacity_))
                 : std::max(target_ - step, 0.0);
  }

  // The remembered page is missed: p adapts, and B1 or B2 forgets it.
  void adapt(PageId page) {
    target_ = adapted_target(page);
    from_b2_ = links_.list_of(page) == kB2;
    (from_b2_ ? b2_ : b1_).remove(links_, page);
  }

  // adapt=insert: |T1| + |B1| <= c and |T1| + |T2| + |B1| + |B2| <= 2c.
  void bound_directory() {
    if (t1_.size() + b1_.size() > capacity_ && !b1_.empty()) b1_.remove(links_, b1_.back());
    if (t1_.size() + t2_.size() + b1_.size() + b2_.size() > 2 * capacity_) {
      PageList& ghosts = b2_.empty() ? b1_ : b2_;
      if (!ghosts.empty()) ghosts.remove(links_, ghosts.back());
    }
  }

  const uint64_t capacity_;
  const bool adapt_on_insert_;
  double target_ = 0;                  // p: the size T1 should have
  PageId incoming_ = PageLinks::kNil;  // the page room is being made for, if any
  bool from_b2_ = false;               // the last remembered page missed was in B2
  PageLinks links_;
  PageList t1_{kT1};
  PageList t2_{kT2};
  PageList b1_{kB1};
  PageList b2_{kB2};
  PageList back_{kBack};
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_arc(const Params& params, const Context& context) {
  const bool adapt_on_insert = param_choice(params, "adapt", {"room", "insert"}) == 1;
  return std::make_unique<Arc>(required_capacity(params, context), adapt_on_insert);
}

}  // namespace tiermem::policies
