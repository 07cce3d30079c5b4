// policies/lirs.cpp: LIRS eviction (Jiang and Zhang, SIGMETRICS 2002): recency of reuse, not of
// use, decides, so a loop larger than the tier keeps a fixed part of itself resident instead
// of evicting every page just before its turn comes (what LRU, FIFO and CLOCK do).
//
// Pages with a short reuse distance are LIR and hold all but `hir` of the frames; the others
// (HIR) share the rest in a queue Q whose oldest page is the victim. The stack S orders pages
// by recency: every LIR page, and the HIR pages, resident or not (ghosts), used since the least
// recent LIR page. An HIR page used again while in S has a reuse distance shorter than that
// LIR page's recency: it becomes LIR, and the least recent LIR page becomes HIR. S is pruned
// so that its bottom is always LIR, and bounded: past `stack` entries per frame, or `ghost`
// ghosts per frame, the oldest ghosts leave it.
//
// The defaults reproduce libCacheSim's LIRS miss for miss, which departs from the paper in one
// place (qhit=demote): a resident HIR page that S forgot, used again while the LIR set is full,
// enters S and makes S's least recent LIR page HIR, and Q, full, pushes its oldest page out of
// LIRS's resident set at once. The tier still holds that page: the simulator evicts it at once,
// as libCacheSim does (drops=evict); a pool, or drops=hold, keeps it as the next victim, and
// until then a use of it is, for LIRS, a miss bringing it back. qhit=stay is the paper's rule (the
// page only moves to the top of S and the front of Q); `lirs:qhit=stay,stack=3` is tiermem's
// earlier LIRS.
//
// A pin of many pages at once (a layer's weights) can need more frames than the HIR share
// holds: the victim must then be an LIR page, and by default (lir=recent) it is the most
// recently used one. Such a pin is a scan, and in a loop the page used last is the one needed
// last (evicting the least recent LIR page there, as LIRS's stack order would, lir=oldest,
// turns it into LRU: 1.31x Belady's bytes on layer streaming at a quarter of the footprint,
// against 1.01x).
#include <algorithm>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

enum Status : uint8_t { kUnknown = 0, kLir, kHir, kGhost };  // kGhost: HIR, not resident
enum : uint8_t { kInQ = 1, kLeaving = 2 };                   // q_links_' lists

struct LirsOptions {
  uint64_t lir_limit;     // the frames less the `hir` share
  uint64_t hir_limit;     // the `hir` share
  uint64_t ghost_limit;   // ghosts
  uint64_t stack_limit;   // entries of S
  bool demote_on_q_hit;   // qhit=demote
  bool recent_lir_first;  // lir=recent
  bool hold_dropped;      // drops=hold: dropped() gives none; they wait to be victims
};

class Lirs final : public EvictionPolicy {
 public:
  explicit Lirs(const LirsOptions& options) : options_(options) {}

  std::string_view name() const noexcept override { return "lirs"; }

  void insert(const AccessEvent& event) override {
    miss(event.page);
    limit_stack();
  }

  void touch(const AccessEvent& event) override {
    const PageId page = event.page;
    if (q_links_.list_of(page) == kLeaving) {  // out of LIRS's resident set: back as by a miss
      leaving_.remove(q_links_, page);
      miss(page);
    } else if (status(page) == kLir) {
      to_top(page);
      prune();
    } else if (in_s(page)) {  // HIR, reused while in S
      q_.remove(q_links_, page);
      to_top(page);
      if (lirs_ >= options_.lir_limit) demote_bottom();
      make_lir(page);
    } else if (options_.demote_on_q_hit) {  // HIR, reused after S forgot it
      q_.move_to_front(q_links_, page);
      if (lirs_ >= options_.lir_limit) demote_bottom(page);
      to_top(page);
    } else {
      to_top(page);
      q_.move_to_front(q_links_, page);
    }
    limit_stack();
  }

  std::optional<PageId> victim(const VictimFilter& filter) override {
    if (std::optional<PageId> page = leaving_.oldest(q_links_, filter)) return page;
    if (std::optional<PageId> page = q_.oldest(q_links_, filter)) return page;
    // Every HIR page is pinned or busy: an evictable LIR page goes, by S's order.
    const bool recent = options_.recent_lir_first;
    for (PageId page = recent ? s_.front() : s_.back(); page != PageLinks::kNil;
         page = recent ? PageList::older(s_links_, page) : PageList::newer(s_links_, page)) {
      if (status(page) == kLir && filter.evictable(page)) return page;
    }
    return std::nullopt;
  }

  std::optional<PageId> dropped(const VictimFilter& filter) override {
    if (options_.hold_dropped) return std::nullopt;
    return leaving_.oldest(q_links_, filter);
  }

  void evict(PageId page) override {
    if (q_links_.list_of(page) == kLeaving) return leaving_.remove(q_links_, page);
    if (status(page) != kHir) return forget(page);
    q_.remove(q_links_, page);
    if (in_s(page)) {
      become_ghost(page);
    } else {
      set(page, kUnknown);
    }
  }

  void remove(PageId page) override {
    if (q_links_.list_of(page) == kLeaving) leaving_.remove(q_links_, page);
    forget(page);
  }

  uint64_t size() const noexcept override { return lirs_ + q_.size() + leaving_.size(); }

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

  void make_lir(PageId page) {
    set(page, kLir);
    ++lirs_;
  }

  // A page not resident for LIRS arrives: a ghost has a short reuse distance and becomes LIR,
  // as does any page while the LIR set has room; the others are HIR, Q making room first.
  void miss(PageId page) {
    if (status(page) == kGhost) {
      ghosts_.remove(ghost_links_, page);
      to_top(page);
      if (lirs_ >= options_.lir_limit) demote_bottom();
      make_lir(page);
    } else if (lirs_ < options_.lir_limit) {
      to_top(page);
      make_lir(page);
    } else {
      if (q_.size() >= options_.hir_limit) push_out(q_.back());
      set(page, kHir);
      to_top(page);
      q_.push_front(q_links_, page);
    }
  }

  // S's least recent LIR page becomes HIR, the newest in Q, which pushes its oldest out if full
  // (but not staying, the page being used).
  void demote_bottom(PageId staying = PageLinks::kNil) {
    prune();  // S's bottom is LIR already, but where the LIR set once emptied (a tier of 2)
    const PageId bottom = s_.back();
    s_.remove(s_links_, bottom);
    --lirs_;
    if (q_.size() >= options_.hir_limit && q_.back() != staying) push_out(q_.back());
    set(bottom, kHir);
    q_.push_front(q_links_, bottom);
    prune();
  }

  // The resident HIR page leaves LIRS's resident set though the tier still holds it: it is the
  // next victim.
  void push_out(PageId page) {
    q_.remove(q_links_, page);
    if (in_s(page)) {
      become_ghost(page);
    } else {
      set(page, kUnknown);
    }
    leaving_.push_front(q_links_, page);
  }

  void become_ghost(PageId page) {
    set(page, kGhost);  // remembered: back soon, it becomes LIR
    ghosts_.push_front(ghost_links_, page);
    while (ghosts_.size() > options_.ghost_limit) forget(ghosts_.back());
  }

  // HIR pages at S's bottom are older than every LIR page: their next use could not make them
  // LIR, so S forgets them (ghosts entirely). S's top stays, LIR or not.
  void prune() {
    while (s_.size() > 1 && status(s_.back()) != kLir) {
      const PageId page = s_.back();
      s_.remove(s_links_, page);
      if (status(page) == kGhost) {
        ghosts_.remove(ghost_links_, page);
        set(page, kUnknown);
      }
    }
  }

  // Past `stack` entries, S forgets its oldest ghosts.
  void limit_stack() {
    while (s_.size() > options_.stack_limit && !ghosts_.empty()) {
      const PageId page = ghosts_.back();
      ghosts_.remove(ghost_links_, page);
      s_.remove(s_links_, page);
      set(page, kUnknown);
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

  const LirsOptions options_;
  uint64_t lirs_ = 0;
  PageLinks s_links_, q_links_, ghost_links_;  // a page is in each at most once
  PageList s_{1}, ghosts_{1};
  PageList q_{kInQ};
  PageList leaving_{kLeaving};  // resident for the tier, not for LIRS: victims first
  PageTable<uint8_t> status_;
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_lirs(const Params& params, const Context& context) {
  const uint64_t capacity = required_capacity(params, context);
  // Read in order, so that an error lists the accepted parameters in it.
  const double hir = params.get_double("hir", 0.01, 0.001, 0.5);
  const double ghost = params.get_double("ghost", 2.0, 0.0, 16.0);
  const double stack = params.get_double("stack", 2.0, 1.0, 16.0);
  const bool demote = param_choice(params, "qhit", {"demote", "stay"}) == 0;
  const bool recent = param_choice(params, "lir", {"recent", "oldest"}) == 0;
  const bool hold = param_choice(params, "drops", {"evict", "hold"}) == 1;
  const uint64_t hir_frames = std::max<uint64_t>(1, static_cast<uint64_t>(hir * capacity));
  return std::make_unique<Lirs>(LirsOptions{
      .lir_limit = capacity > hir_frames ? capacity - hir_frames : 1,
      .hir_limit = hir_frames,
      .ghost_limit = static_cast<uint64_t>(ghost * capacity),
      .stack_limit = static_cast<uint64_t>(stack * capacity),
      .demote_on_q_hit = demote,
      .recent_lir_first = recent,
      .hold_dropped = hold,
  });
}

}  // namespace tiermem::policies
