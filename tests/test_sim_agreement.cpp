// tests/test_sim_agreement.cpp: the fast simulator against the same trace replayed through a
// data-less pool on the virtual clock, where the migration engine decides: the fast model's
// test. Without prefetch they agree on every figure; where they differ by design (docs/DESIGN.md,
// "The fast model and the pool"), the difference is bounded and its cause checked.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/test_support.hpp"
#include "tiermem/error.hpp"
#include "tiermem/sim.hpp"
#include "tiermem/virtual_clock.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::sim {
namespace {

// Every figure, by the names Result::visit gives them.
std::string dump(const Result& result) {
  return result.to_json();
}

// Dense layer streaming: every token reads every layer's weights and its KV cache, and writes
// the KV cache (layers larger than a page, so accesses pin many pages at once).
Trace layers(Tier weight_tier = Tier::dram) {
  workload::LayerStreaming options;
  options.model = "phi-3-mini";
  options.tokens = 3;
  options.prompt = 64;
  options.weight_tier = weight_tier;
  return workload::layer_streaming(options);
}

// Single pages of 8 tensors, zipf-skewed, a fifth of them writes, with compute between.
Trace zipf() {
  workload::RandomAccesses options;
  options.pages = 2048;
  options.tensors = 8;
  options.events = 20000;
  options.alpha = 1.0;
  options.write_fraction = 0.2;
  options.compute_ns = 20000;
  return workload::random_accesses(options);
}

Config config_for(const Trace& trace, std::string eviction, double dram_share) {
  Config config;
  config.eviction = std::move(eviction);
  config.dram_bytes =
      static_cast<uint64_t>(static_cast<double>(trace.footprint_bytes()) * dram_share);
  return config;
}

class Agreement : public ::testing::TestWithParam<std::string> {};

TEST_P(Agreement, EveryFigureIsTheSameOnLayersAndZipf) {
  for (const Trace& trace : {layers(), zipf()}) {
    for (double share : {0.25, 0.6}) {
      const Config config = config_for(trace, GetParam(), share);
      SCOPED_TRACE(GetParam() + " with dram " + std::to_string(config.dram_bytes));
      const Result fast = simulate(trace, config);
      ASSERT_GT(fast.misses, 0u);
      EXPECT_EQ(dump(simulate_on_pool(trace, config)), dump(fast));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(NoPrefetch, Agreement,
                         ::testing::Values("lru", "fifo", "s3fifo", "clock", "arc",
                                           "lirs:drops=hold", "sieve", "moe",
                                           "wtinylfu:drops=hold"));

// The pages W-TinyLFU and LIRS let go on a hit are all that parts the two models: the fast
// model evicts them at once, as libCacheSim does; a pool, hearing of hits late, holds them as
// its next victims, as the fast model does with drops=hold.
TEST(Agreement, PoliciesPartOnlyByThePagesTheyLetGoOnAHit) {
  for (const std::string eviction : {"wtinylfu", "lirs"}) {
    SCOPED_TRACE(eviction);
    bool parted = false;
    for (const Trace& trace : {layers(), zipf()}) {
      for (double share : {0.25, 0.6}) {
        const Result fast = simulate(trace, config_for(trace, eviction, share));
        const Result pool = simulate_on_pool(trace, config_for(trace, eviction, share));
        Result held = simulate(trace, config_for(trace, eviction + ":drops=hold", share));
        held.eviction = pool.eviction;
        EXPECT_EQ(dump(pool), dump(held));
        // A use of such a page is a miss in the fast model only.
        EXPECT_GE(fast.misses, pool.misses);
        EXPECT_LE(static_cast<double>(fast.misses), 1.02 * static_cast<double>(pool.misses));
        parted |= fast.misses != pool.misses;
      }
    }
    // LIRS lets a page go on a hit only when S forgot it: none on these traces is used again.
    EXPECT_EQ(parted, eviction == "wtinylfu");
  }
}

TEST(Agreement, BeladyMissesAreTheSameAndWithTheSameFutureEveryFigureIs) {
  for (const Trace& trace : {layers(), zipf()}) {
    Config config = config_for(trace, "belady", 0.25);
    const Result oracle = simulate(trace, config);
    const Result pool = simulate_on_pool(trace, config);
    // The pool learns next uses from a schedule: the whole trace, registered as one iteration.
    // Pages never used again are tied under the oracle and ordered by the schedule, so the two
    // may pick different ones among them: the same misses, maybe other write-backs.
    EXPECT_EQ(pool.misses, oracle.misses);
    EXPECT_EQ(pool.misses, oracle.belady_misses);
    config.future = Future::schedule;
    config.schedule = std::make_shared<const Trace>(trace);
    EXPECT_EQ(dump(simulate_on_pool(trace, config)), dump(simulate(trace, config)));
    // With the schedule prefetcher too: neither owner lets a prefetch displace a page the
    // schedule needs before the one it brings.
    config.prefetch = "schedule";
    const Result fast = simulate(trace, config);
    EXPECT_GT(fast.prefetch_dropped, 0u);
    EXPECT_EQ(dump(simulate_on_pool(trace, config)), dump(fast));
  }
}

TEST(Agreement, WithAGpuTierTheyAgreeButOnHowDramCountsGpuFetches) {
  const Trace trace = layers(Tier::gpu);
  Config config = config_for(trace, "lru", 0.4);
  config.gpu_bytes = trace.footprint_bytes() / 10;
  Result fast = simulate(trace, config);
  Result pool = simulate_on_pool(trace, config);
  // The fast model counts a gpu access's look into dram as a dram hit or miss; the pool counts
  // only pins in dram there.
  EXPECT_GT(fast.dram.misses, pool.dram.misses);
  EXPECT_GT(pool.dram.misses, 0u) << "the KV cache is pinned in dram";
  fast.dram.hits = pool.dram.hits;
  fast.dram.misses = pool.dram.misses;
  EXPECT_EQ(dump(pool), dump(fast));
}

TEST(Agreement, WithSequentialPrefetchLruAgreesAndS3FifoNearly) {
  for (const Trace& trace : {layers(), zipf()}) {
    Config config = config_for(trace, "lru", 0.25);
    config.prefetch = "sequential:depth=4";
    const Result fast = simulate(trace, config);
    ASSERT_GT(fast.prefetch_issued, 0u);
    Result pool = simulate_on_pool(trace, config);
    // A proposed page still being written down is skipped by the pool and dropped, with the
    // rest of its proposal, by the fast model, which does not track it.
    EXPECT_LE(pool.prefetch_dropped, fast.prefetch_dropped);
    pool.prefetch_dropped = fast.prefetch_dropped;
    EXPECT_EQ(dump(pool), dump(fast));
  }
  // A demand access to a page still being written down waits for the write in the pool and
  // takes its frame then; the fast model takes one at once. S3-FIFO's victim searches (for a
  // prefetch's clean frame among them) age the pages they pass, so a victim chosen later parts
  // the models a little; LRU's choice does not depend on when.
  const Trace trace = zipf();
  Config config = config_for(trace, "s3fifo", 0.1);
  config.prefetch = "sequential:depth=4";
  const Result fast = simulate(trace, config);
  const Result pool = simulate_on_pool(trace, config);
  auto near = [](uint64_t a, uint64_t b, double share) {
    return static_cast<double>(a > b ? a - b : b - a) <= share * static_cast<double>(b);
  };
  EXPECT_TRUE(near(pool.misses, fast.misses, 0.03)) << pool.misses << " vs " << fast.misses;
  EXPECT_TRUE(near(pool.prefetch_issued, fast.prefetch_issued, 0.02))
      << pool.prefetch_issued << " vs " << fast.prefetch_issued;
  EXPECT_TRUE(near(pool.dram.writebacks, fast.dram.writebacks, 0.04))
      << pool.dram.writebacks << " vs " << fast.dram.writebacks;
  EXPECT_TRUE(near(pool.stall_ns, fast.stall_ns, 0.02)) << pool.stall_ns << " vs " << fast.stall_ns;
}

// A mixture of experts whose application announces each layer's routed experts a layer ahead
// (prefetch records): the pool takes them as Tensor::prefetch, the fast model as its own.
TEST(Agreement, TracePrefetchesOfAMixtureOfExperts) {
  testing::ScratchDir dir;
  const std::string shape = dir.path() + "/moe.json";
  std::ofstream(shape) << R"({"name": "tiny-moe", "layers": 4, "hidden": 256, "ffn": 512,
    "heads": 4, "kv_heads": 4, "vocab": 1000, "mlp": "gated", "dtype": "bf16", "experts": 16,
    "experts_per_token": 2, "shared_experts": 1, "expert_ffn": 128, "dense_layers": 1})";
  workload::LayerStreaming options;
  options.model = shape;
  options.prompt = 8;
  options.tokens = 12;
  options.page_size = 64 << 10;
  options.hints_ahead = 1;
  const Trace trace = workload::layer_streaming(options);
  for (const char* eviction : {"lru", "moe", "lirs", "wtinylfu"}) {
    SCOPED_TRACE(eviction);
    const Config config = config_for(trace, eviction, 0.3);
    const Result fast = simulate(trace, config);
    ASSERT_GT(fast.prefetch_issued, 0u);
    EXPECT_EQ(dump(simulate_on_pool(trace, config)), dump(fast));
  }
}

TEST(Agreement, PagesOf4KiBAsCacheSimulatorsTracesHave) {
  workload::RandomAccesses options;
  options.pages = 8192;
  options.events = 20000;
  options.alpha = 0.9;
  options.page_size = 4096;
  const Trace trace = workload::random_accesses(options);
  const Config config = config_for(trace, "s3fifo", 0.2);
  EXPECT_EQ(dump(simulate_on_pool(trace, config)), dump(simulate(trace, config)));
}

TEST(Agreement, ThePoolReplayRefusesWhatTheFastOneRefuses) {
  Trace trace = zipf();
  Config config = config_for(trace, "lru", 0.5);
  config.eviction = "mru";
  EXPECT_THROW(simulate_on_pool(trace, config), Error);
  config.eviction = "lru";
  config.memory_limit = 64 << 10;  // 2048 pages need more tables than that
  try {
    simulate_on_pool(trace, config);
    ADD_FAILURE() << "a replay beyond its memory limit ran";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("memory limit of 0 MiB"), std::string::npos) << e.what();
  }
  trace.page_size = 128 << 20;  // a trace may have such pages; a pool may not
  config.memory_limit = 4ull << 30;
  try {
    simulate_on_pool(trace, config);
    ADD_FAILURE() << "a trace of 128 MiB pages ran through a pool";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("page_size 128MiB is not a power of two from 4KiB to 64MiB"),
        std::string::npos)
        << e.what();
  }
  trace.page_size = 2 << 20;
  trace.accesses.push_back({0, 0, 0, 0, 5000, TraceOp::read, Tier::dram});
  config.memory_limit = 4ull << 30;
  EXPECT_THROW(simulate_on_pool(trace, config), Error);  // beyond its tensor: validate()
}

}  // namespace
}  // namespace tiermem::sim
