// tests/test_libcachesim_golden.cpp: tiermem's policies against libCacheSim's, on the same
// trace: the golden miss counts below are what libCacheSim's `cachesim` (built from its source,
// commit aa0fc40) reported for this trace exported to its oracleGeneral format, one object per
// page, object sizes ignored (bench/vs_libcachesim.sh derives them again). With their default
// parameters, tiermem's policies must miss exactly as often.
#include <gtest/gtest.h>

#include <string>

#include "tiermem/sim.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::sim {
namespace {

// `tiermem trace gen zipf --pages 4096 --tensors 8 --events 10000 --page-size 64KiB --seed 3
// --alpha 0.8`: 10 000 single-page reads.
Trace golden_trace() {
  workload::RandomAccesses options;
  options.pages = 4096;
  options.tensors = 8;
  options.events = 10'000;
  options.page_size = 64 << 10;
  options.seed = 3;
  options.alpha = 0.8;
  return workload::random_accesses(options);
}

struct Golden {
  const char* libcachesim;  // its name for the policy
  const char* tiermem;
  uint64_t misses_256;  // capacity 256 pages
  uint64_t misses_1024;
};

constexpr Golden kGoldens[] = {
    {"LRU", "lru", 6619, 4194},     {"FIFO", "fifo", 7017, 4640}, {"Clock", "clock", 6496, 4131},
    {"LFU", "lfu", 5907, 4011},     {"TwoQ", "2q", 5973, 4264},   {"S3FIFO", "s3fifo", 5782, 4035},
    {"SIEVE", "sieve", 5907, 4011}, {"ARC", "arc", 5807, 4015},   {"LIRS", "lirs", 5756, 3966},
};

TEST(LibCacheSim, DefaultPoliciesMissExactlyAsItsDo) {
  const Trace trace = golden_trace();
  ASSERT_EQ(trace.page_accesses(), 10'000u);
  Config config;
  config.belady_baseline = false;
  for (const Golden& golden : kGoldens) {
    config.eviction = golden.tiermem;
    config.dram_bytes = 256 * trace.page_size;
    EXPECT_EQ(simulate(trace, config).misses, golden.misses_256)
        << golden.tiermem << " against libCacheSim's " << golden.libcachesim << ", 256 pages";
    config.dram_bytes = 1024 * trace.page_size;
    EXPECT_EQ(simulate(trace, config).misses, golden.misses_1024)
        << golden.tiermem << " against libCacheSim's " << golden.libcachesim << ", 1024 pages";
  }
}

}  // namespace
}  // namespace tiermem::sim
