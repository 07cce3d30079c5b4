// tests/test_sim.cpp: the simulator's figures on traces small enough to work out by hand,
// determinism, and Belady's optimality over random traces.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>

#include "tiermem/error.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::sim {
namespace {

using ::testing::HasSubstr;

// One tensor of `pages` 4 KiB pages; single-page reads of the given pages, each followed by
// compute_ns of compute.
Trace pages_trace(uint32_t pages, std::vector<uint32_t> order, uint64_t compute_ns = 0,
                  Tier tier = Tier::dram) {
  Trace trace;
  trace.page_size = 4096;
  trace.tensor_pages = {pages};
  for (uint32_t page : order) {
    trace.accesses.push_back({0, compute_ns, 0, page, 1, TraceOp::read, tier});
  }
  return trace;
}

// NVMe at 1 GB/s with no latency and one request at a time: 4096 ns per 4 KiB page.
Config slow_disk(std::string eviction, uint64_t dram_pages) {
  Config config;
  config.eviction = std::move(eviction);
  config.dram_bytes = dram_pages * 4096;
  config.nvme = Link::parse("gbps=1,lat_us=0,qd=1", config.nvme);
  config.pcie = Link::parse("gbps=4,lat_us=0,qd=1", config.pcie);
  return config;
}

struct Dump final : ResultVisitor {
  std::ostringstream out;
  void label(std::string_view n, std::string_view v) override { out << n << '=' << v << '\n'; }
  void counter(std::string_view n, uint64_t v) override { out << n << '=' << v << '\n'; }
  void ratio(std::string_view n, double v) override { out << n << '=' << v << '\n'; }
};

std::string dump(const Result& result) {
  Dump d;
  result.visit(d);
  return d.out.str();
}

TEST(Sim, DemandMissesStallForEachRead) {
  // LRU with 2 frames over pages 0 1 0 2 1: misses 0, 1, 2 (evicts 1), 1 (evicts 0); 0 hits.
  // Nothing overlaps: each miss stalls one 4096 ns read.
  Result r = simulate(pages_trace(3, {0, 1, 0, 2, 1}), slow_disk("lru", 2));
  EXPECT_EQ(r.accesses, 5u);
  EXPECT_EQ(r.misses, 4u);
  EXPECT_EQ(r.hits, 1u);
  EXPECT_EQ(r.bytes_read, 4u * 4096);
  EXPECT_EQ(r.stall_ns, 4u * 4096);
  EXPECT_EQ(r.elapsed_ns, 4u * 4096);
  EXPECT_EQ(r.io_ns, 4u * 4096);
  EXPECT_EQ(r.overlap_efficiency, 0.0);
  EXPECT_EQ(r.dram.evictions, 2u);
  // Belady evicts 0 (never used again) for 2, so 1 hits: 3 misses.
  EXPECT_TRUE(r.has_baseline);
  EXPECT_EQ(r.belady_misses, 3u);
  EXPECT_DOUBLE_EQ(r.gap_misses(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.gap_bytes(), 1.0 / 3);
}

TEST(Sim, QueueDepthAndLatencyPipelineARangeAccess) {
  // One access of 4 pages: with 10 us latency and queue depth 4 the latencies overlap and
  // the pages stream back to back: 10000 + 4 x 4096 ns.
  Trace trace = pages_trace(4, {});
  trace.accesses.push_back({0, 0, 0, 0, 4, TraceOp::read, Tier::dram});
  Config config = slow_disk("lru", 4);
  config.nvme = Link::parse("lat_us=10,qd=4", config.nvme);
  EXPECT_EQ(simulate(trace, config).stall_ns, 10000u + 4 * 4096);
  config.nvme = Link::parse("qd=1", config.nvme);  // one at a time: latency each
  EXPECT_EQ(simulate(trace, config).stall_ns, 4u * (10000 + 4096));
}

TEST(Sim, SequentialPrefetchHidesReadsBehindCompute) {
  // Pages 0..7 in order, 10 us of compute after each. Page 0 stalls 4096 ns; every later
  // page was prefetched (depth 2) long before its turn.
  Config config = slow_disk("lru", 8);
  config.prefetch = "sequential:depth=2";
  Result r = simulate(pages_trace(8, {0, 1, 2, 3, 4, 5, 6, 7}, 10000), config);
  EXPECT_EQ(r.misses, 1u);
  EXPECT_EQ(r.stall_ns, 4096u);
  EXPECT_EQ(r.prefetch_issued, 7u);
  EXPECT_EQ(r.prefetch_useful, 7u);
  EXPECT_EQ(r.prefetch_late, 0u);
  EXPECT_EQ(r.prefetch_useless, 0u);
  EXPECT_EQ(r.elapsed_ns, 4096u + 8 * 10000);
  EXPECT_DOUBLE_EQ(r.overlap_efficiency, 1.0 - 4096.0 / (8 * 4096));
}

TEST(Sim, LatePrefetchStallsUntilArrival) {
  // No compute: page 1, prefetched with page 0's read, arrives at 8192 but is needed at
  // 4096; page 2 likewise. Useless: page 3, proposed by the last access, never used.
  Config config = slow_disk("lru", 4);
  config.prefetch = "sequential:depth=1";
  Result r = simulate(pages_trace(4, {0, 1, 2}), config);
  EXPECT_EQ(r.misses, 1u);
  EXPECT_EQ(r.prefetch_late, 2u);
  EXPECT_EQ(r.prefetch_useless, 1u);
  EXPECT_EQ(r.stall_ns, 3u * 4096);
}

TEST(Sim, PrefetchBudgetDropsProposals) {
  Config config = slow_disk("lru", 8);
  config.prefetch = "sequential:depth=4";
  config.prefetch_budget = 2 * 4096;
  Result r = simulate(pages_trace(8, {0}), config);
  EXPECT_EQ(r.prefetch_issued, 2u);
  EXPECT_EQ(r.prefetch_dropped, 2u);
}

TEST(Sim, TracePrefetchesAreIssuedLikeAPoolsAndAreNoAccesses) {
  // The application announces pages 0..3 and computes 100 us; the reads then all hit.
  Trace trace = pages_trace(4, {});
  trace.accesses.push_back({0, 100'000, 0, 0, 4, TraceOp::prefetch, Tier::dram});
  for (uint32_t page = 0; page < 4; ++page) {
    trace.accesses.push_back({0, 0, 0, page, 1, TraceOp::read, Tier::dram});
  }
  EXPECT_EQ(trace.page_accesses(), 4u);
  Config config = slow_disk("lru", 8);
  Result r = simulate(trace, config);
  EXPECT_EQ(r.accesses, 4u);
  EXPECT_EQ(r.hits, 4u);
  EXPECT_EQ(r.misses, 0u);
  EXPECT_EQ(r.prefetch_issued, 4u);
  EXPECT_EQ(r.prefetch_useful, 4u);
  EXPECT_EQ(r.stall_ns, 0u);
  EXPECT_EQ(r.bytes_fetched, 4u * 4096);
  // Belady's baseline is the optimum of the accesses alone: four misses.
  EXPECT_EQ(r.belady_misses, 4u);
  // The governor judges only the prefetch policy's guesses; the budget binds both.
  config.prefetch_budget = 2 * 4096;
  r = simulate(trace, config);
  EXPECT_EQ(r.prefetch_issued, 2u);
  EXPECT_EQ(r.prefetch_dropped, 2u);
  EXPECT_EQ(r.misses, 2u);
  // Ignored, the accesses miss as if the records were not there.
  config.trace_prefetches = false;
  r = simulate(trace, config);
  EXPECT_EQ(r.prefetch_issued, 0u);
  EXPECT_EQ(r.misses, 4u);
  EXPECT_EQ(r.compute_ns, 100'000u);
}

TEST(Sim, APageFetchedAheadIsEvictedBeforeItsUseOnlyWhenNoOtherCanGo) {
  // Two frames. Page 2 is announced and arrives during the compute; page 0 is read; reading
  // page 1 then evicts 0, LRU's second choice, rather than the unused page 2, which hits.
  auto read = [](uint32_t page) { return TraceAccess{0, 0, 0, page, 1, TraceOp::read}; };
  Trace trace = pages_trace(3, {});
  trace.accesses = {{0, 10'000, 0, 2, 1, TraceOp::prefetch}, read(0), read(1), read(2)};
  trace.accesses[1].compute_ns = 10'000;
  Result r = simulate(trace, slow_disk("lru", 2));
  EXPECT_EQ(r.misses, 2u);
  EXPECT_EQ(r.prefetch_useful, 1u);
  EXPECT_EQ(r.prefetch_useless, 0u);
  // Every frame holds an unused prefetched page: a demand miss takes the policy's victim.
  trace.accesses = {{0, 10'000, 0, 0, 2, TraceOp::prefetch}, read(2), read(1), read(0)};
  r = simulate(trace, slow_disk("lru", 2));
  EXPECT_EQ(r.misses, 2u);
  EXPECT_EQ(r.prefetch_useful, 1u);
  EXPECT_EQ(r.prefetch_useless, 1u);
}

TEST(Sim, APrefetchNeverDisplacesAPageNeededBeforeIt) {
  // Two frames, Belady, pages read 0 1 0 1 2 with compute between. Page 1 arrives by
  // prefetch; reading it proposes page 2, whose only victim would be page 1 (Belady's: read
  // again at access 3, before page 2 at access 4), so the prefetch is dropped; reading page 1
  // again proposes 2 once more, and then page 0, never read again, makes room. Page 3,
  // proposed by the last read, is never read: no victim is needed later than it, so it is
  // dropped too, where it would have been fetched for nothing.
  Config config = slow_disk("belady", 2);
  config.prefetch = "sequential:depth=1";
  Result r = simulate(pages_trace(4, {0, 1, 0, 1, 2}, 10000), config);
  EXPECT_EQ(r.misses, 1u);
  EXPECT_EQ(r.prefetch_issued, 2u);
  EXPECT_EQ(r.prefetch_useful, 2u);
  EXPECT_EQ(r.prefetch_dropped, 2u);
  EXPECT_EQ(r.prefetch_useless, 0u);
  EXPECT_EQ(r.bytes_fetched, 3u * 4096);
  // Under LRU, which knows no next uses, prefetches displace pages read before the ones they
  // bring, which are then missed.
  config.eviction = "lru";
  r = simulate(pages_trace(4, {0, 1, 0, 1, 2}, 10000), config);
  EXPECT_GT(r.misses, 1u);
  EXPECT_EQ(r.prefetch_dropped, 0u);
}

TEST(Sim, DirtyEvictionsAreWrittenBack) {
  // Write pages 0 and 1 into a 1-page tier: writing 1 evicts dirty 0 (one write-back), and
  // 1's frame is free only when that write completes.
  Trace trace = pages_trace(2, {});
  trace.accesses = {{0, 0, 0, 0, 1, TraceOp::write, Tier::dram},
                    {0, 0, 0, 1, 1, TraceOp::write, Tier::dram}};
  Result r = simulate(trace, slow_disk("fifo", 1));
  EXPECT_EQ(r.bytes_read, 0u) << "whole-page writes fetch nothing";
  EXPECT_EQ(r.bytes_written, 4096u);
  EXPECT_EQ(r.dram.writebacks, 1u);
  EXPECT_EQ(r.stall_ns, 4096u);
}

TEST(Sim, GpuAccessesReadThroughDram) {
  // gpu holds 1 page, dram 2: pages 0 1 0 in gpu. Each gpu miss is a dram access: 0 and 1
  // miss in dram (nvme reads), the second 0 hits in dram and only crosses PCIe.
  Config config = slow_disk("lru", 2);
  config.gpu_bytes = 4096;
  Result r = simulate(pages_trace(2, {0, 1, 0}, 0, Tier::gpu), config);
  EXPECT_EQ(r.gpu.misses, 3u);
  EXPECT_EQ(r.dram.misses, 2u);
  EXPECT_EQ(r.dram.hits, 1u);
  EXPECT_EQ(r.bytes_read, 2u * 4096);
  EXPECT_EQ(r.gpu.bytes_in, 3u * 4096);
  EXPECT_EQ(r.stall_ns, 2u * 4096 + 3 * 1024);
  config.gpu_bytes = 0;  // no gpu tier: gpu accesses are served by dram
  EXPECT_EQ(simulate(pages_trace(2, {0, 1, 0}, 0, Tier::gpu), config).misses, 2u);
}

TEST(Sim, Errors) {
  auto message = [](const Trace& trace, const Config& config) -> std::string {
    try {
      simulate(trace, config);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_THAT(message(pages_trace(2, {0}), slow_disk("lru", 0)),
              HasSubstr("dram capacity 0 bytes is below one page (4096 bytes)"));
  Trace wide = pages_trace(4, {});
  wide.accesses.push_back({0, 0, 0, 0, 4, TraceOp::read, Tier::dram});
  EXPECT_THAT(
      message(wide, slow_disk("lru", 3)),
      HasSubstr(
          "trace access 0 (tensor 0, pages 0+4): pins 4 pages at once, but the dram tier holds 3"));
  EXPECT_THAT(message(pages_trace(2, {0}), slow_disk("mru", 2)),
              HasSubstr("unknown eviction policy 'mru'"));
  EXPECT_THAT(Link::parse("gbps=2", Link{}).gbps, 2.0);
  try {
    Link::parse("bw=2", Link{});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown key 'bw' (known: gbps, write_gbps, lat_us, qd)"));
  }
}

// A small layer-streaming trace with 16 MiB pages.
Trace layers(std::string_view model, uint32_t tokens, uint32_t prompt) {
  workload::LayerStreaming options;
  options.model = model;
  options.tokens = tokens;
  options.prompt = prompt;
  options.page_size = 16 << 20;
  return workload::layer_streaming(options);
}

// Under each eviction policy, with DRAM a quarter of the footprint, no prefetcher adds more
// than 5% to the bytes the policy fetches alone.
void expect_prefetchers_add_little(const Trace& trace,
                                   std::initializer_list<const char*> evictions) {
  Config config;
  config.dram_bytes = trace.footprint_bytes() / 4;
  config.belady_baseline = false;
  for (const char* eviction : evictions) {
    config.eviction = eviction;
    config.prefetch = "none";
    const Result alone = simulate(trace, config);
    for (const char* prefetch : {"sequential", "stride", "markov", "schedule"}) {
      config.prefetch = prefetch;
      const Result with = simulate(trace, config);
      EXPECT_LE(static_cast<double>(with.bytes_fetched),
                1.05 * static_cast<double>(alone.bytes_fetched))
          << eviction << " + " << prefetch << ": " << with.prefetch_issued << " issued, "
          << with.prefetch_useless << " unused";
    }
  }
}

TEST(Sim, NoPrefetcherAddsMoreThanAFewPercentToTheBytesFetched) {
  // Zipf-random single pages: every read-ahead guess is wrong, and once made them all.
  workload::RandomAccesses options;
  options.pages = 4096;
  options.tensors = 8;
  options.events = 50'000;
  options.alpha = 1.0;
  expect_prefetchers_add_little(workload::random_accesses(options), {"lru"});
}

// A loop larger than DRAM: prefetched pages in flight hold frames outside the eviction
// policy, which must not make it give up the pages it keeps for the loop (W-TinyLFU's main
// space did, and fetched 9% more bytes with the schedule prefetcher than without).
TEST(Sim, NoPrefetcherAddsMoreThanAFewPercentOnLayerStreaming) {
  workload::LayerStreaming options;
  options.model = "opt-13b";
  options.tokens = 16;  // 2 MiB pages, as `tiermem trace gen layers` makes them
  expect_prefetchers_add_little(workload::layer_streaming(options),
                                {"lru", "lirs", "moe", "wtinylfu", "s3fifo", "arc"});
}

TEST(Sim, Deterministic) {
  Trace trace = layers("phi-3-mini", 3, 64);
  Config config;
  config.dram_bytes = trace.footprint_bytes() / 2;
  config.gpu_bytes = 1ull << 30;
  for (const char* prefetch : {"none", "schedule", "markov"}) {
    config.prefetch = prefetch;
    for (const char* eviction : {"lru", "s3fifo", "belady"}) {
      config.eviction = eviction;
      EXPECT_EQ(dump(simulate(trace, config)), dump(simulate(trace, config)))
          << eviction << " + " << prefetch;
    }
  }
}

TEST(Sim, BeladyNeverMissesMoreThanAnyPolicy) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    workload::RandomAccesses options;
    options.pages = 64 + seed * 40;
    options.tensors = 3;
    options.events = 3000;
    options.alpha = seed % 2 == 0 ? 0.0 : 0.8;
    options.seed = seed;
    options.page_size = 4096;
    Trace trace = workload::random_accesses(options);
    for (uint64_t capacity : {8u, 32u, 100u}) {
      Config config = slow_disk("belady", capacity);
      config.belady_baseline = false;
      uint64_t optimum = simulate(trace, config).misses;
      for (const PolicyInfo& policy : eviction_policies()) {
        config.eviction = policy.name;
        EXPECT_LE(optimum, simulate(trace, config).misses)
            << policy.name << ", seed " << seed << ", capacity " << capacity;
      }
    }
  }
}

TEST(Sim, ScheduleWithBeladyMatchesBeladyBytesOnLayerStreaming) {
  Trace trace = layers("opt-13b", 6, 32);
  Config config;
  config.dram_bytes = trace.footprint_bytes() / 2;
  config.eviction = "belady";
  config.prefetch = "schedule";
  Result r = simulate(trace, config);
  EXPECT_LE(r.gap_bytes(), 0.01);
  Config demand = config;
  demand.prefetch = "none";
  EXPECT_LT(r.stall_ns, simulate(trace, demand).stall_ns);
  // Belady as a live pool runs it: next uses predicted by the registered order alone.
  workload::LayerStreaming options;
  options.model = "opt-13b";
  options.page_size = 16 << 20;
  config.schedule = std::make_shared<const Trace>(workload::layer_streaming_schedule(options));
  config.future = Future::schedule;
  EXPECT_LE(simulate(trace, config).gap_bytes(), 0.01);
  config.schedule = nullptr;
  config.future = Future::trace;
  config.eviction = "lru";
  config.prefetch = "none";
  Result lru = simulate(trace, config);
  EXPECT_GT(lru.miss_ratio(), 0.95) << "LRU on a loop larger than the cache misses everything";
}

}  // namespace
}  // namespace tiermem::sim
