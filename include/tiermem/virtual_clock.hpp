// tiermem/virtual_clock.hpp: a pool on modelled devices and a clock its host advances, for
// simulators that want the pool's real placement, eviction, prefetch and migration decisions
// in their own time.
//
// Such a pool has no thread of its own and touches no disk or GPU: the NVMe and PCIe links are
// modelled as the simulator models them (tiermem/sim.hpp's Link: bandwidth each way, latency,
// queue depth), and every transfer completes only when the host advances the clock past its
// end (Pool::advance), on the host's thread. The same calls give the same results, byte for
// byte, on every run. The same migration engine decides everything, live or virtual.
//
// Calls that block in a live pool (pin, evict, flush, release, ~Pool) run the clock forward
// themselves until they can return: virtual time passes while they "wait". The asynchronous
// forms (pin_async, prefetch) return at once; advance() then completes them.
//
// Data-less pools keep sizes, pages and decisions but no bytes: frames have no memory, pins'
// data() is null, and a terabyte of modelled state fits a laptop (see bench/RESULTS.md for
// the memory per page).
#pragma once

#include <cstdint>

#include "tiermem/export.h"
#include "tiermem/sim.hpp"

namespace tiermem {

struct VirtualDevices {
  sim::Link nvme{2.0, 0, 100.0, 32};  // nvme <-> dram
  sim::Link pcie{55.0, 0, 10.0, 4};   // dram <-> gpu
  bool data = true;                   // false: data-less
  // Every new tensor's pages start on the modelled NVMe (as weights loaded from a checkpoint
  // do), so that their first pins read them from there; false: they start unbacked and their
  // first pins fill zeros, as in a live pool. With data, they read as zeros either way.
  bool tensors_start_on_nvme = false;
};

namespace sim {

// Replays trace as simulate() does, but through a data-less Pool on a virtual clock with
// config's tiers, links and policies: the migration engine's own decisions instead of the fast
// model's, each access a pin that waits for its pages, then the access's compute. The Belady
// baseline comes from the fast model. Policies that want next uses get them from the
// registered schedule (Future::schedule) or, with Future::trace, from the whole trace
// registered as one. On the same trace and config the two agree on misses (docs/DESIGN.md
// says where other figures differ and why). Throws what simulate() throws, and
// Error(invalid_argument) when the pool's tables (kept per page) would exceed memory_limit.
TIERMEM_API Result simulate_on_pool(const Trace& trace, const Config& config);

}  // namespace sim

}  // namespace tiermem
