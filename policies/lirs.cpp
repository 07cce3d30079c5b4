// policies/lirs.cpp: LIRS eviction (Jiang and Zhang, SIGMETRICS 2002): recency of reuse, not of
// use, decides, so a loop larger than the tier keeps a fixed part of itself resident instead
// of evicting every page just before its turn comes (what LRU, FIFO and CLOCK do).
//
// Pages with a short reuse distance are LIR and hold all but `hir` of the frames; the others
// (HIR) share the rest in a queue Q whose oldest page is the victim. The stack S orders pages
// by recency: every LIR page, and the HIR pages, resident or not (ghosts), used since the least
// recent LIR page. An HIR page used again while in S has a reuse distance shorter than that
// LIR page's recency: it becomes LIR, and the least recent LIR page becomes HIR. S is pruned
// so that its bottom is always LIR; ghosts are bounded (`ghost` per frame), oldest out first.
//
// A pin of many pages at once (a layer's weights) can need more frames than the HIR share
// holds: the victim must then be an LIR page, and it is the most recently used one. Such a pin
// is a scan, and in a loop the page used last is the one needed last (evicting the least
// recent LIR page there, as LIRS's stack order would, turns it into LRU: 1.31x Belady's bytes
// on layer streaming at a quarter of the footprint, against 1.01x).
#include <algorithm>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

enum Status : uint8_t { kUnknown = 0, kLir, kHir, kGhost };  // kGhost: HIR, not resident

class Lirs final : public EvictionPolicy {
 public:
  Lirs(uint64_t lir_limit, uint64_t ghost_limit)
      : lir_limit_(lir_limit), ghost_limit_(ghost_limit) {}

  std::string_view name() const noexcept override { return "lirs"; }

  void insert(const AccessEvent& event) override {
    const PageId page = event.page;
    if (status(page) == kGhost) {  // back while still in S: a short reuse distance
      ghosts_.remove(ghost_links_, page);
      promote(page);
    } else if (lirs_ < lir_limit_) {  // the first pages fill the LIR set
      set(page, kLir);
      ++lirs_;
      to_top(page);
    } else {
      set(page, kHir);
      to_top(page);
      q_.push_front(q_links_, page);
    }
  }

  void touch(const AccessEvent& event) override {
    const PageId page = event.page;
    if (status(page) == kLir) {
      to_top(page);
      prune();
    } else if (in_s(page)) {  // HIR, reused while in S
      q_.remove(q_links_, page);
      promote(page);
    } else {  // HIR, reused after S forgot it: stays HIR, newest in Q
      to_top(page);
      q_.move_to_front(q_links_, page);
    }
  }

  std::optional<PageId> victim(const VictimFilter& filter) override {
    if (std::optional<PageId> page = q_.oldest(q_links_, filter)) return page;
    // Every HIR page is pinned or busy: the most recent evictable LIR page goes.
    for (PageId page = s_.front(); page != PageLinks::kNil;
         page = PageList::older(s_links_, page)) {
      if (status(page) == kLir && filter.evictable(page)) return page;
    }
    return std::nullopt;
  }

  void evict(PageId page) override {
    if (status(page) != kHir || !in_s(page)) return forget(page);
    q_.remove(q_links_, page);
    set(page, kGhost);  // remembered: back soon, it becomes LIR
    ghosts_.push_front(ghost_links_, page);
    while (ghosts_.size() > ghost_limit_) forget(ghosts_.back());
  }

  void remove(PageId page) override { forget(page); }

  uint64_t size() const noexcept override { return lirs_ + q_.size(); }

  void will_access(PageId page) const noexcept override { s_links_.prefetch(page); }

 private:
  Status status(PageId page) const noexcept {
    return page < status_.size() ? static_cast<Status>(status_[page]) : kUnknown;
  }
  void set(PageId page, Status s) {
    if (page >= status_.size()) status_.resize(page + 1 + status_.size() / 2, kUnknown);
    status_[page] = s;
  }
  bool in_s(PageId page) const noexcept { return s_links_.list_of(page) != PageLinks::kNoList; }

  void to_top(PageId page) {
    if (in_s(page)) {
      s_.move_to_front(s_links_, page);
    } else {
      s_.push_front(s_links_, page);
    }
  }

  // A resident HIR page (out of Q) becomes LIR; past the LIR set's limit, the least recent LIR
  // page (S's bottom) becomes HIR, the newest in Q.
  void promote(PageId page) {
    set(page, kLir);
    ++lirs_;
    to_top(page);
    if (lirs_ > lir_limit_) {
      const PageId bottom = s_.back();
      s_.remove(s_links_, bottom);
      set(bottom, kHir);
      --lirs_;
      q_.push_front(q_links_, bottom);
    }
    prune();
  }

  // HIR pages at S's bottom are older than every LIR page: their next use could not make them
  // LIR, so S forgets them (ghosts entirely).
  void prune() {
    while (!s_.empty() && status(s_.back()) != kLir) {
      const PageId page = s_.back();
      s_.remove(s_links_, page);
      if (status(page) == kGhost) {
        ghosts_.remove(ghost_links_, page);
        set(page, kUnknown);
      }
    }
  }

  void forget(PageId page) {
    switch (status(page)) {
      case kLir:
        --lirs_;
        break;
      case kHir:
        q_.remove(q_links_, page);
        break;
      case kGhost:
        ghosts_.remove(ghost_links_, page);
        break;
      case kUnknown:
        return;
    }
    if (in_s(page)) s_.remove(s_links_, page);
    set(page, kUnknown);
    prune();
  }

  const uint64_t lir_limit_;  // the frames less the `hir` share
  const uint64_t ghost_limit_;
  uint64_t lirs_ = 0;
  PageLinks s_links_, q_links_, ghost_links_;  // a page is in each list at most once
  PageList s_{1}, q_{1}, ghosts_{1};
  PageTable<uint8_t> status_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lirs(const Params& params, const Context& context) {
  const uint64_t capacity = required_capacity(params, context);
  const double hir = params.get_double("hir", 0.01, 0.001, 0.5);
  const double ghost = params.get_double("ghost", 2.0, 0.0, 16.0);
  const uint64_t hir_frames = std::max<uint64_t>(1, static_cast<uint64_t>(hir * capacity));
  return std::make_unique<Lirs>(capacity > hir_frames ? capacity - hir_frames : 1,
                                static_cast<uint64_t>(ghost * capacity));
}

}  // namespace tiermem::policies
