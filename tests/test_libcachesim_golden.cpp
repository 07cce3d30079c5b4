// tests/test_libcachesim_golden.cpp: tiermem's policies against libCacheSim's, on the same
// traces: the golden miss counts below are what libCacheSim's `cachesim` (built from its source,
// commit aa0fc40) reported for two zipf traces exported to its oracleGeneral format, one object
// per page, object sizes ignored (bench/vs_libcachesim.sh derives the first trace's again). With
// their default parameters, tiermem's policies must miss exactly as often.
#include <gtest/gtest.h>

#include <span>
#include <string>

#include "tiermem/sim.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::sim {
namespace {

// `tiermem trace gen zipf --pages P --tensors T --events 10000 --page-size 64KiB --seed S
// --alpha A`: 10 000 single-page reads (cachesim's 4-decimal miss ratio is then exact).
Trace zipf_trace(uint64_t pages, uint32_t tensors, uint64_t seed, double alpha) {
  workload::RandomAccesses options;
  options.pages = pages;
  options.tensors = tensors;
  options.events = 10'000;
  options.page_size = 64 << 10;
  options.seed = seed;
  options.alpha = alpha;
  return workload::random_accesses(options);
}

struct Golden {
  const char* libcachesim;  // its name for the policy
  const char* tiermem;
  uint64_t misses_256;  // capacity 256 pages
  uint64_t misses_1024;
};

// Pages 4096, tensors 8, seed 3, alpha 0.8 (bench/vs_libcachesim.sh's trace).
constexpr Golden kGoldens[] = {
    {"LRU", "lru", 6619, 4194},     {"FIFO", "fifo", 7017, 4640},
    {"Clock", "clock", 6496, 4131}, {"LFU", "lfu", 5907, 4011},
    {"TwoQ", "2q", 5973, 4264},     {"S3FIFO", "s3fifo", 5782, 4035},
    {"SIEVE", "sieve", 5907, 4011}, {"ARC", "arc", 5807, 4015},
    {"LIRS", "lirs", 5756, 3966},   {"WTinyLFU", "wtinylfu", 5856, 3983},
};

// Pages 8192, tensors 4, seed 11, alpha 1.
constexpr Golden kSecondGoldens[] = {
    {"LRU", "lru", 4855, 3245},     {"FIFO", "fifo", 5324, 3584},
    {"Clock", "clock", 4722, 3167}, {"LFU", "lfu", 4207, 3097},
    {"TwoQ", "2q", 4390, 3373},     {"S3FIFO", "s3fifo", 4170, 3162},
    {"SIEVE", "sieve", 4207, 3097}, {"ARC", "arc", 4132, 3084},
    {"LIRS", "lirs", 4126, 3057},   {"WTinyLFU", "wtinylfu", 4212, 3093},
};

void expect_goldens(const Trace& trace, std::span<const Golden> goldens) {
  ASSERT_EQ(trace.page_accesses(), 10'000u);
  Config config;
  config.belady_baseline = false;
  for (const Golden& golden : goldens) {
    config.eviction = golden.tiermem;
    config.dram_bytes = 256 * trace.page_size;
    EXPECT_EQ(simulate(trace, config).misses, golden.misses_256)
        << golden.tiermem << " against libCacheSim's " << golden.libcachesim << ", 256 pages";
    config.dram_bytes = 1024 * trace.page_size;
    EXPECT_EQ(simulate(trace, config).misses, golden.misses_1024)
        << golden.tiermem << " against libCacheSim's " << golden.libcachesim << ", 1024 pages";
  }
}

TEST(LibCacheSim, DefaultPoliciesMissExactlyAsItsDo) {
  expect_goldens(zipf_trace(4096, 8, 3, 0.8), kGoldens);
}

TEST(LibCacheSim, DefaultPoliciesMissExactlyAsItsDoOnASecondTrace) {
  expect_goldens(zipf_trace(8192, 4, 11, 1.0), kSecondGoldens);
}

}  // namespace
}  // namespace tiermem::sim
