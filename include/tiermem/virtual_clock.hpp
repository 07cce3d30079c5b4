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

#include "tiermem/sim.hpp"

namespace tiermem {

struct VirtualDevices {
  sim::Link nvme{2.0, 0, 100.0, 32};  // nvme <-> dram
  sim::Link pcie{55.0, 0, 10.0, 4};   // dram <-> gpu
  bool data = true;                   // false: data-less
};

}  // namespace tiermem
