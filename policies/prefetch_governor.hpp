// policies/prefetch_governor.hpp: keeps every prefetch policy from adding more than a few
// percent to the bytes its owner fetches, by holding its proposals back while its record says
// they would go unused.
//
// A prefetch policy guesses; a guess that is never used costs a fetch and a frame. The owner
// (the migration engine, the simulator) counts what became of the pages it prefetched, and
// asks before issuing each proposal. The expected waste is the pages already wasted plus the
// pages still open (issued, neither used nor wasted yet) times the share that went unused so
// far; it may be at most kWasteShare of what the owner fetched for use (demand fetches and
// prefetches that were used) plus a few pages, so that a prefetcher can earn a record. An
// accurate prefetcher is never held back; one that guesses wrong stops within a few pages of
// the bound, and starts again as demand fetches give it room. The share is small because a
// wasted page costs more than its own fetch: its frame pushed out a page that is then missed
// (2-5 such misses per wasted page on zipf traces, bench/RESULTS.md).
#pragma once

#include <cstdint>

namespace tiermem::policies {

struct PrefetchRecord {
  uint64_t issued = 0;  // pages prefetched
  uint64_t used = 0;    // of them, pinned (arrived or still arriving)
  uint64_t wasted = 0;  // of them, evicted, overwritten or released unused
  uint64_t demand = 0;  // pages fetched because an access missed them (or found them arriving)
};

inline constexpr double kWasteShare = 0.002;
inline constexpr uint64_t kWasteSlack = 8;  // pages

// Whether the owner may issue one more prefetched page.
inline bool prefetch_allowed(const PrefetchRecord& r) {
  const uint64_t open = r.issued - r.used - r.wasted;
  const double unused = (static_cast<double>(r.wasted) + 1.0) /
                        (static_cast<double>(r.used + r.wasted) + 2.0);  // an even prior
  const double expected_waste = static_cast<double>(r.wasted) + static_cast<double>(open) * unused;
  return expected_waste <=
         kWasteShare * static_cast<double>(r.demand + r.used) + static_cast<double>(kWasteSlack);
}

}  // namespace tiermem::policies
