// policies/builtin.hpp: the makers of the built-in policies, one per row of the registry.
#pragma once

#include <memory>

#include "policies/registry.hpp"

namespace tiermem::policies {

using EvictionMaker = std::unique_ptr<EvictionPolicy>(const Params& params, const Context& context);
using PrefetchMaker = std::unique_ptr<PrefetchPolicy>(const Params& params, const Context& context);

EvictionMaker make_lru;
EvictionMaker make_fifo;
EvictionMaker make_clock;
EvictionMaker make_lfu;
EvictionMaker make_two_q;
EvictionMaker make_arc;
EvictionMaker make_s3fifo;
EvictionMaker make_belady;
EvictionMaker make_lirs;
EvictionMaker make_sieve;
EvictionMaker make_moe;
EvictionMaker make_wtinylfu;

PrefetchMaker make_no_prefetch;
PrefetchMaker make_sequential;
PrefetchMaker make_stride;
PrefetchMaker make_schedule;
PrefetchMaker make_markov;

}  // namespace tiermem::policies
