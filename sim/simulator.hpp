// sim/simulator.hpp: one replay without the Belady baseline, for callers that run many.
#pragma once

#include "tiermem/sim.hpp"

namespace tiermem::sim {

// simulate() without the baseline run, and without validating the trace again.
Result replay(const Trace& trace, const Config& config);

}  // namespace tiermem::sim
