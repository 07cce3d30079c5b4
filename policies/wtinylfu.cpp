// policies/wtinylfu.cpp: W-TinyLFU eviction (Einziger, Friedman and Manes, 2017; Caffeine's
// policy): a small LRU window takes new pages; the main space is a segmented LRU (probation,
// then protected for pages used again there); and when the tier is full the window's oldest
// page (the candidate) and the main space's oldest (the victim) are compared by an estimate of
// how often each was used lately, from a frequency sketch whose counters halve now and then.
// The less used one goes: a burst of pages used once cannot push out pages used often.
//
// sketch=cbf (the default) is libCacheSim's W-TinyLFU, miss for miss: the sketch is a counting
// Bloom filter (10 XXH64 hashes of the page id, 14.4 counters per main-space page) that every
// new page, main-space hit and contest adds to, halved every `sample` x main-space-pages hits
// of the main space. The window is not bounded: it fills the tier until it is full, and the
// main space takes the window's oldest pages while it has room. A full tier then runs contests
// until one candidate loses: each that wins pushes the main space's victim out first, so that
// several pages may leave for one. A hit in probation that overflows protected can push
// probation's oldest page out too. Such pages wait in a leaving list: the simulator evicts them
// at once, as libCacheSim does (dropped(); drops=evict); a pool, which hears of hits late, or
// drops=hold, takes them as the next victims, and a use of one before then brings it back as by
// a miss. Where libCacheSim
// has no counterpart: when no window page can leave (all pinned by the access under way, or the
// tier's frames taken by prefetches in flight), the main space's victim goes and the main space
// lends its frame to the window; it gets it back only by a contest won, never uncontested, so
// that a loop's pages kept in the main space are not traded for the window's newest.
//
// sketch=cms is tiermem's earlier W-TinyLFU: a 4-row count-min sketch of 4-bit counters halved
// every `sample` x capacity accesses, a window bounded by `window`, and one contest per victim:
// victim() only peeks, remembering the candidate it weighed, and evict() of the main space's
// page then moves that candidate from the window into probation.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cmath>
#include <utility>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

enum : uint8_t { kWindow = 1, kProbation = 2, kProtected = 3, kLeaving = 4 };

// sketch=cbf: counts of page ids in a counting Bloom filter, approximate from above.
class CountingBloomFilter {
 public:
  // Sized for a 0.1% false-positive rate at `entries` ids: -ln(0.001) / ln(2)^2 counters per
  // id, ln(2) times that many hashes (rounded up).
  explicit CountingBloomFilter(uint64_t entries) {
    const double per_entry = -std::log(0.001) / 0.480453013918201;
    hashes_ = static_cast<uint32_t>(std::ceil(0.693147180559945 * per_entry));
    auto counters = static_cast<uint64_t>(
        std::min(std::ceil(per_entry * static_cast<double>(entries)), double{INT_MAX}));
    counters_.assign(std::max<uint64_t>(counters, 2 * hashes_), 0);
  }

  void add(PageId page) {
    const uint32_t least = estimate(page);
    if (least == UINT32_MAX) return;
    for_each_counter(page, [](uint32_t& counter) { ++counter; });
  }
  uint32_t estimate(PageId page) {
    uint32_t least = UINT32_MAX;
    for_each_counter(page, [&](uint32_t& counter) { least = std::min(least, counter); });
    return least;
  }
  void halve() {
    for (uint32_t& counter : counters_) counter >>= 1;
  }

 private:
  // Double hashing, in 32-bit arithmetic: counter a + i * b for i < hashes.
  template <typename Visit>
  void for_each_counter(PageId page, Visit visit) {
    const auto a = static_cast<uint32_t>(XXH64(&page, sizeof page, 0x12345678));
    const auto b = static_cast<uint32_t>(XXH64(&page, sizeof page, 0x12344321));
    const auto n = static_cast<uint32_t>(counters_.size());
    for (uint32_t i = 0; i < hashes_; ++i) visit(counters_[(a + i * b) % n]);
  }

  uint32_t hashes_ = 0;
  std::vector<uint32_t> counters_;
};

class WTinyLfu final : public EvictionPolicy {
 public:
  WTinyLfu(uint64_t capacity, uint64_t main_limit, uint64_t probation_limit,
           uint64_t protected_limit, uint64_t age_period, bool hold_dropped)
      : hold_dropped_(hold_dropped),
        capacity_(capacity),
        main_limit_(main_limit),
        probation_limit_(probation_limit),
        protected_limit_(protected_limit),
        age_period_(std::max<uint64_t>(1, age_period)),
        sketch_(main_limit) {}

  std::string_view name() const noexcept override { return "wtinylfu"; }

  void insert(const AccessEvent& event) override {
    arrive(event.page, !event.prefetched);
    links_[event.page].bits = event.prefetched;  // to be counted at its first use
  }

  void touch(const AccessEvent& event) override {
    const PageId page = event.page;
    const bool first_use = std::exchange(links_[page].bits, 0) != 0;
    switch (links_.list_of(page)) {
      case kLeaving:  // out of the cache already, for libCacheSim: back as by a miss
        leaving_.remove(links_, page);
        arrive(page, true);
        return;
      case kWindow:
        window_.move_to_front(links_, page);
        if (first_use) sketch_.add(page);  // counted now, as a demand fetch is on arrival
        return;
      case kProbation:  // used again in probation: protected, whose oldest may step down
        probation_.remove(links_, page);
        protected_.push_front(links_, page);
        while (protected_.size() > protected_limit_) {
          const PageId oldest = protected_.back();
          protected_.remove(links_, oldest);
          probation_.push_front(links_, oldest);
          while (probation_.size() > probation_limit_) leave(probation_.back());
        }
        count_main_hit(page);
        return;
      default:
        protected_.move_to_front(links_, page);
        count_main_hit(page);
        return;
    }
  }

  std::optional<PageId> victim(const VictimFilter& filter) override {
    if (leaving_.empty()) make_room(filter);
    if (auto page = leaving_.oldest(links_, filter)) return page;
    // Pinned or busy: the oldest evictable page of the window, then of the main space.
    if (auto page = window_.oldest(links_, filter)) return page;
    if (auto page = probation_.oldest(links_, filter)) return page;
    return protected_.oldest(links_, filter);
  }

  std::optional<PageId> dropped(const VictimFilter& filter) override {
    if (hold_dropped_) return std::nullopt;
    return leaving_.oldest(links_, filter);
  }

  void evict(PageId page) override { remove(page); }

  void remove(PageId page) override { list(links_.list_of(page)).remove(links_, page); }

  uint64_t size() const noexcept override { return window_.size() + main_size() + leaving_.size(); }
  void will_access(PageId page) const noexcept override { links_.prefetch(page); }

 private:
  PageList& list(uint8_t tag) {
    switch (tag) {
      case kWindow:
        return window_;
      case kProbation:
        return probation_;
      case kProtected:
        return protected_;
      default:
        return leaving_;
    }
  }
  uint64_t main_size() const noexcept { return probation_.size() + protected_.size(); }

  // counted: the page came for an access (a prefetched one is not counted until used).
  void arrive(PageId page, bool counted) {
    window_.push_front(links_, page);
    if (counted) sketch_.add(page);
  }

  void count_main_hit(PageId page) {
    sketch_.add(page);
    if (++main_hits_ >= age_period_) {  // age: old popularity fades
      main_hits_ = 0;
      sketch_.halve();
    }
  }

  // The main space takes a page into the first segment with room, probation first.
  void enter_main(PageId page) {
    if (probation_.size() < probation_limit_) {
      probation_.push_front(links_, page);
    } else if (protected_.size() < protected_limit_) {
      protected_.push_front(links_, page);
    } else {
      probation_.push_front(links_, page);
    }
  }
  // The main space's victim among the pages filter accepts: probation's oldest, else
  // protected's.
  std::optional<PageId> main_victim(const VictimFilter& filter) {
    if (auto page = probation_.oldest(links_, filter)) return page;
    return protected_.oldest(links_, filter);
  }

  // The page leaves the cache (for libCacheSim) while the tier still holds it.
  void leave(PageId page) {
    list(links_.list_of(page)).remove(links_, page);
    leaving_.push_front(links_, page);
  }

  // The tier is full: the window's oldest pages move to the main space while it has room, then
  // contest its victim until one loses (see the banner). Pages that must leave are chosen
  // among those filter accepts (libCacheSim has no pins): a pinned page pushed out would stay
  // in the tier while the owner evicted some other page than the policy's choice.
  void make_room(const VictimFilter& filter) {
    for (;;) {
      if (!window_.empty() && main_size() + lent_ < main_limit_) {
        const PageId oldest = window_.back();
        window_.remove(links_, oldest);
        enter_main(oldest);
        sketch_.add(oldest);
        continue;
      }
      const std::optional<PageId> candidate = window_.oldest(links_, filter);
      const std::optional<PageId> victim = main_victim(filter);
      if (!candidate) {
        if (!victim) return;
        leave(*victim);
        // The window is empty for libCacheSim too only when it holds no page and the tier's
        // every frame holds one of the policy's pages.
        if (!window_.empty() || size() < capacity_) ++lent_;
        return;
      }
      // The candidate wins against the victim's count, or, when no main-space page can leave,
      // by default while the main space has frames lent out: it takes one back.
      const bool wins =
          victim ? sketch_.estimate(*candidate) > sketch_.estimate(*victim) : lent_ > 0;
      bool lost = false;
      if (wins) {
        if (lent_ > 0) {
          --lent_;
        } else {
          leave(*victim);
        }
        window_.remove(links_, *candidate);
        enter_main(*candidate);
      } else {
        leave(*candidate);
        lost = true;
      }
      sketch_.add(*candidate);
      if (lost) return;
    }
  }

  const bool hold_dropped_;  // drops=hold: dropped() gives none; they wait to be victims
  const uint64_t capacity_;
  const uint64_t main_limit_;
  const uint64_t probation_limit_;
  const uint64_t protected_limit_;
  const uint64_t age_period_;  // main-space hits between agings
  uint64_t main_hits_ = 0;
  // Frames the main space gave up when no window page could leave (all pinned, or the tier's
  // frames taken by pages in flight): it does not take them back uncontested.
  uint64_t lent_ = 0;
  CountingBloomFilter sketch_;
  PageLinks links_;
  PageList window_{kWindow}, probation_{kProbation}, protected_{kProtected};
  PageList leaving_{kLeaving};  // resident for the tier, not for the cache: victims first
};

// sketch=cms: counts of page accesses, approximate from above, in 4 rows of saturating
// counters.
class FrequencySketch {
 public:
  FrequencySketch(uint64_t capacity, uint64_t sample)
      : mask_(std::bit_ceil(std::max<uint64_t>(16, 4 * capacity)) - 1),
        counters_(4 * (mask_ + 1), 0),
        sample_(std::max<uint64_t>(1, sample * capacity)) {}

  void add(PageId page) {
    for (uint64_t row = 0; row < 4; ++row) {
      uint8_t& counter = counters_[slot(page, row)];
      counter = std::min<uint8_t>(counter + 1, 15);
    }
    if (++added_ == sample_) {  // age: old popularity fades
      for (uint8_t& counter : counters_) counter /= 2;
      added_ = 0;
    }
  }
  uint8_t estimate(PageId page) const {
    uint8_t least = 15;
    for (uint64_t row = 0; row < 4; ++row) least = std::min(least, counters_[slot(page, row)]);
    return least;
  }

 private:
  uint64_t slot(PageId page, uint64_t row) const {
    static constexpr std::array<uint64_t, 4> kSeeds = {
        0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0xD6E8FEB86659FD93ull};
    uint64_t h = (page + 1) * kSeeds[row];
    h ^= h >> 29;
    return row * (mask_ + 1) + (h & mask_);
  }

  uint64_t mask_;
  std::vector<uint8_t> counters_;
  uint64_t sample_;
  uint64_t added_ = 0;
};

// sketch=cms: tiermem's earlier W-TinyLFU, one contest per victim (see the banner).
class WTinyLfuPerVictim final : public EvictionPolicy {
 public:
  WTinyLfuPerVictim(uint64_t capacity, double window, double protect, uint64_t sample)
      : window_limit_(std::max<uint64_t>(1, static_cast<uint64_t>(window * capacity))),
        protected_limit_(
            static_cast<uint64_t>(protect * (capacity - std::min(capacity, window_limit_)))),
        capacity_(capacity),
        sketch_(capacity, sample) {}

  std::string_view name() const noexcept override { return "wtinylfu"; }

  void insert(const AccessEvent& event) override {
    if (!event.prefetched) sketch_.add(event.page);  // a prefetched page counts when used
    window_.push_front(links_, event.page);
    // While the main space has room, the window's overflow goes there without a contest.
    while (window_.size() > window_limit_ && main_size() + window_.size() <= capacity_) {
      const PageId oldest = window_.back();
      window_.remove(links_, oldest);
      probation_.push_front(links_, oldest);
    }
  }

  void touch(const AccessEvent& event) override {
    const PageId page = event.page;
    sketch_.add(page);
    switch (links_.list_of(page)) {
      case kWindow:
        window_.move_to_front(links_, page);
        return;
      case kProbation:  // used again in probation: protected, whose oldest may step down
        probation_.remove(links_, page);
        protected_.push_front(links_, page);
        if (protected_.size() > protected_limit_) {
          const PageId oldest = protected_.back();
          protected_.remove(links_, oldest);
          probation_.push_front(links_, oldest);
        }
        return;
      default:
        protected_.move_to_front(links_, page);
        return;
    }
  }

  std::optional<PageId> victim(const VictimFilter& filter) override {
    candidate_.reset();
    std::optional<PageId> main = probation_.oldest(links_, filter);
    if (!main) main = protected_.oldest(links_, filter);
    // The page about to come in will push the window's oldest out: it contests the victim.
    std::optional<PageId> candidate =
        window_.size() >= window_limit_ || !main ? window_.oldest(links_, filter) : std::nullopt;
    if (!candidate) return main;
    if (!main) return candidate;
    // The candidate enters the main space only if it was used more lately than the victim.
    if (sketch_.estimate(*candidate) > sketch_.estimate(*main)) {
      candidate_ = candidate;
      return main;
    }
    return candidate;
  }

  void evict(PageId page) override {
    remove(page);
    if (candidate_ && links_.list_of(*candidate_) == kWindow) {
      window_.remove(links_, *candidate_);
      probation_.push_front(links_, *candidate_);
    }
    candidate_.reset();
  }

  void remove(PageId page) override {
    switch (links_.list_of(page)) {
      case kWindow:
        window_.remove(links_, page);
        return;
      case kProbation:
        probation_.remove(links_, page);
        return;
      default:
        protected_.remove(links_, page);
        return;
    }
  }

  uint64_t size() const noexcept override { return window_.size() + main_size(); }
  void will_access(PageId page) const noexcept override { links_.prefetch(page); }

 private:
  uint64_t main_size() const noexcept { return probation_.size() + protected_.size(); }

  const uint64_t window_limit_;
  const uint64_t protected_limit_;
  const uint64_t capacity_;
  FrequencySketch sketch_;
  PageLinks links_;
  PageList window_{kWindow}, probation_{kProbation}, protected_{kProtected};
  std::optional<PageId> candidate_;  // weighed by the last victim() and admitted if it won
};

}  // namespace

std::unique_ptr<EvictionPolicy> make_wtinylfu(const Params& params, const Context& context) {
  const uint64_t capacity = required_capacity(params, context);
  // Read in order, so that an error lists the accepted parameters in it.
  const double window = params.get_double("window", 0.01, 0.001, 0.9);
  const double protected_share = params.get_double("protected", 0.8, 0.0, 1.0);
  const bool cms = param_choice(params, "sketch", {"cbf", "cms"}) == 1;
  const uint64_t sample = params.get_uint("sample", cms ? 10 : 32, 1, 1000);
  const bool hold_dropped = !cms && param_choice(params, "drops", {"evict", "hold"}) == 1;
  if (cms) return std::make_unique<WTinyLfuPerVictim>(capacity, window, protected_share, sample);
  const auto main = capacity - static_cast<uint64_t>(static_cast<double>(capacity) * window);
  // libCacheSim splits the main space 1:4 and rounds each part down; the probation share rounded
  // to 9 decimals makes 1 - 0.8 exactly its 1/5.
  const double probation_share = std::round((1.0 - protected_share) * 1e9) / 1e9;
  const auto main_pages = static_cast<double>(main);
  return std::make_unique<WTinyLfu>(
      capacity, main, static_cast<uint64_t>(probation_share * main_pages),
      static_cast<uint64_t>(protected_share * main_pages), sample * main, hold_dropped);
}

}  // namespace tiermem::policies
