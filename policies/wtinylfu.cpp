// policies/wtinylfu.cpp: W-TinyLFU eviction (Einziger, Friedman and Manes, 2017; Caffeine's
// policy): a small LRU window takes new pages; the main space is a segmented LRU (probation,
// then protected for pages used again there); and when the tier is full the window's oldest
// page (the candidate) and the main space's oldest (the victim) are compared by an estimate of
// how often each was used lately, from a count-min sketch whose counters halve every
// `sample` x capacity accesses. The less used one goes: a burst of pages used once cannot push
// out pages used often.
//
// victim() only peeks: it remembers the candidate it weighed, and evict() of the main space's
// page then moves that candidate from the window into probation.
#include <algorithm>
#include <array>
#include <bit>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/page_list.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

// Counts of page accesses, approximate from above, in 4 rows of saturating counters.
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

enum : uint8_t { kWindow = 1, kProbation = 2, kProtected = 3 };

class WTinyLfu final : public EvictionPolicy {
 public:
  WTinyLfu(uint64_t capacity, double window, double protect, uint64_t sample)
      : window_limit_(std::max<uint64_t>(1, static_cast<uint64_t>(window * capacity))),
        protected_limit_(
            static_cast<uint64_t>(protect * (capacity - std::min(capacity, window_limit_)))),
        capacity_(capacity),
        sketch_(capacity, sample) {}

  std::string_view name() const noexcept override { return "wtinylfu"; }

  void insert(const AccessEvent& event) override {
    sketch_.add(event.page);
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
  return std::make_unique<WTinyLfu>(capacity, window, protected_share,
                                    params.get_uint("sample", 10, 1, 1000));
}

}  // namespace tiermem::policies
