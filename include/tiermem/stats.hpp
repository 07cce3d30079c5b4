// tiermem/stats.hpp: a pool's counters, exported through one visitor.
//
// Stats is a snapshot: plain numbers copied out of the pool at one moment. visit() is the one
// place that names every counter; the text and JSON forms are built from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tiermem/export.h"
#include "tiermem/types.hpp"

namespace tiermem {

class TIERMEM_API StatsVisitor {
 public:
  virtual ~StatsVisitor() = default;
  // name is dotted, e.g. "dram.hits" or "moves.nvme_to_dram.bytes".
  virtual void counter(std::string_view name, uint64_t value) = 0;
  // Non-numeric facts, e.g. "gpu.backend" = "emulated".
  virtual void label(std::string_view name, std::string_view value) = 0;
};

struct TierStats {
  uint64_t capacity_bytes = 0;
  uint64_t frames = 0;
  uint64_t free_frames = 0;
  uint64_t hits = 0;        // pages found resident by a pin in this tier
  uint64_t misses = 0;      // pages a pin in this tier had to bring in
  uint64_t prefetched = 0;  // pages prefetch brought into this tier
  uint64_t evictions = 0;   // pages that left this tier to make room
  uint64_t writebacks = 0;  // evicted or flushed pages written down one tier first
};

struct TIERMEM_API Stats {
  TierStats tiers[kTierCount];
  uint64_t moves[kTierCount][kTierCount] = {};        // pages copied from tier i to tier j
  uint64_t moved_bytes[kTierCount][kTierCount] = {};  // bytes copied from tier i to tier j
  uint64_t zero_fills = 0;                            // pages first touched and filled with zeros
  uint64_t pins = 0;                                  // pin calls that succeeded
  uint64_t tensors = 0;                               // live tensors
  uint64_t tensor_bytes = 0;                          // their total size
  uint64_t prefetch_issued = 0;   // pages the prefetch policy or Tensor::prefetch asked for and
                                  // got scheduled
  uint64_t prefetch_useful = 0;   // prefetched pages pinned after they arrived
  uint64_t prefetch_late = 0;     // prefetched pages pinned while still in flight
  uint64_t prefetch_useless = 0;  // prefetched pages evicted or released before any pin
  uint64_t prefetch_dropped = 0;  // pages proposed (or asked for by Tensor::prefetch) refused:
                                  // budget spent, no clean frame free, or
                                  // another operation waiting for a frame
  uint64_t io_errors = 0;         // failed I/O requests (the data stayed in the tier above)
  uint64_t access_events_dropped = 0;  // accesses the policies never heard of (contention)
  std::string gpu_backend;             // "cuda", "emulated" or "none"
  std::string io_engine;               // "uring" or "psync"
  std::string dram_huge_pages;         // "hugetlb", "thp" or "none"
  uint64_t dram_huge_bytes = 0;        // bytes of the DRAM region on 2 MiB pages at start
  bool dram_locked = false;            // the DRAM region is page-locked

  void visit(StatsVisitor& visitor) const;
  // "name value" lines.
  std::string to_text() const;
  // One JSON object, dotted names as keys.
  std::string to_json() const;
};

}  // namespace tiermem
