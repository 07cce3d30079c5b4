// fuzz/fuzz_support.hpp: what the fuzz targets share. A tiermem::Error is a parser refusing bad
// input, which is its job: never a finding. Crashes, sanitizer reports, timeouts, running out
// of memory, an exception of any other type and a broken promise (require) are findings.
#pragma once

#include <cstdio>
#include <cstdlib>

#include "tiermem/error.hpp"
#include "tiermem/sim.hpp"

namespace tiermem::fuzz {

// Runs body; false when it threw tiermem::Error.
template <class Body>
bool accepted(Body&& body) {
  try {
    body();
    return true;
  } catch (const Error&) {
    return false;
  }
}

// A promise the code makes about accepted input; a broken one aborts, so libFuzzer keeps the
// input as a crash.
inline void require(bool kept, const char* promise) {
  if (!kept) {
    std::fprintf(stderr, "broken promise: %s\n", promise);
    std::abort();
  }
}

// Replays an accepted trace on tiers of a few pages, with the Belady baseline, so that what
// the file says reaches the simulator's tables; a small memory limit stands in for a
// machine's memory.
inline void replay(const Trace& trace) {
  sim::Config config;
  config.dram_bytes = 16 * trace.page_size;
  config.gpu_bytes = 4 * trace.page_size;
  config.prefetch = "sequential:depth=2";
  config.memory_limit = 4 << 20;
  accepted([&] { sim::simulate(trace, config); });
}

}  // namespace tiermem::fuzz
