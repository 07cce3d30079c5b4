// tools/stress.hpp: the stress workload behind `tiermem stress` and the integration test.
//
// Random tensors over the pool's tiers, random pins for reading and writing from several
// threads, then every byte checked. Each tensor is written by one thread only (tensor % threads)
// and read by all; a write pin covers whole pages, and every page remembers how often it was
// rewritten, so its expected bytes are known at any moment: zeros before the first write, a
// pattern of (tensor, page, version) after. Uses only the public API.
#pragma once

#include <cstdint>

#include "tiermem/pool.hpp"

namespace tiermem::tools {

struct StressOptions {
  uint64_t total_bytes = 1ull << 30;  // all tensors together
  uint32_t threads = 4;
  double seconds = 10;
  uint64_t max_operations = 0;   // per thread; 0: until seconds have passed
  uint32_t max_pin_pages = 4;    // a pin covers 1 to this many pages
  bool use_gpu = true;           // pin in gpu too, when the pool has a gpu tier
  bool verify = true;            // check bytes during the run and every byte at the end
  bool retry_io_errors = false;  // an Error(io) is counted and the pin tried again later (for
                                 // runs over failing devices); otherwise it propagates
  uint64_t seed = 1;
};

struct StressReport {
  uint64_t tensors = 0;
  uint64_t operations = 0;  // pins that succeeded
  uint64_t read_pins = 0;
  uint64_t write_pins = 0;
  uint64_t retries = 0;    // pins refused for now (busy, tier_full) and tried again later
  uint64_t io_errors = 0;  // pins that failed on I/O and were tried again (retry_io_errors)
  uint64_t bytes_pinned = 0;
  uint64_t bytes_checked = 0;
  uint64_t mismatches = 0;  // bytes that differed from what was written
  double seconds = 0;
  bool verified() const noexcept { return mismatches == 0; }
  // Adds another report's counts (not its tensors or seconds).
  void add(const StressReport& other) noexcept;
};

// Runs the workload on pool; the tensors are released at the end. Errors other than the
// transient busy and tier_full propagate.
StressReport run_stress(Pool& pool, const StressOptions& options);

}  // namespace tiermem::tools
