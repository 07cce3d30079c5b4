// sim/simulator.hpp: the simulator's parts for callers inside the library: one replay without
// the Belady baseline, the baseline alone, the derived figures of a Result and the memory check.
#pragma once

#include "tiermem/sim.hpp"

namespace tiermem::sim {

// simulate() without the baseline run, and without validating the trace again.
Result replay(const Trace& trace, const Config& config);

// Sets result's belady_* figures from a replay of trace with Belady's MIN (next uses from the
// trace) and no prefetch, on config's tiers and links.
void set_baseline(const Trace& trace, const Config& config, Result& result);

// Sets the figures derived from the others: overlap_efficiency and accesses_per_sec.
void derive_rates(Result& result);

// Throws Error(invalid_argument) when tables for pages pages and next uses of page_accesses
// page accesses (Config::memory_limit reckons them) exceed limit; so_far: the trace is being
// read, and has at least these.
void check_table_memory(uint64_t pages, uint64_t page_accesses, uint64_t limit,
                        bool so_far = false);

}  // namespace tiermem::sim
