// examples/tune_policies.cpp: choosing eviction and prefetch policies in a simulator, before
// running anything for real. A layer-streaming workload of a real model is generated, then
// replayed against a few policy pairs on modelled devices; each result is shown next to
// Belady's optimum. The same policies run inside a live Pool (Config::policy).
//
//   tune_policies
#include <cstdio>

#include "tiermem/tiermem.hpp"

int main() {
  using namespace tiermem;
  workload::LayerStreaming options;  // ZeRO-Inference style, opt-13b by default
  options.tokens = 3;
  options.prompt = 64;
  options.weight_tier = Tier::dram;
  Trace trace = workload::layer_streaming(options);

  sim::Config config;
  config.dram_bytes = trace.footprint_bytes() / 2;  // half the model fits in DRAM
  config.nvme = sim::Link::parse("gbps=6,lat_us=80,qd=32", config.nvme);
  std::printf("%-8s %-10s %10s %12s %14s\n", "evict", "prefetch", "miss ratio", "gap to MIN",
              "stall (sim s)");
  for (const char* eviction : {"lru", "s3fifo", "belady"}) {
    for (const char* prefetch : {"none", "schedule"}) {
      config.eviction = eviction;
      config.prefetch = prefetch;
      sim::Result r = sim::simulate(trace, config);
      std::printf("%-8s %-10s %10.3f %11.2f%% %14.2f\n", eviction, prefetch, r.miss_ratio(),
                  100 * r.gap_bytes(), static_cast<double>(r.stall_ns) / 1e9);
    }
  }
  return 0;
}
