// tests/test_workload.cpp: the generators' traces have the shapes their models imply.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "tiermem/error.hpp"
#include "tiermem/workload.hpp"

namespace tiermem::workload {
namespace {

TEST(Models, KnownAndUnknown) {
  EXPECT_EQ(find_model("llama-3-70b").kv_heads, 8u);
  EXPECT_EQ(models().size(), 6u);
  try {
    find_model("gpt-5");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("unknown model 'gpt-5' (known: bloom-176b"));
  }
}

TEST(LayerStreaming, EveryTokenReadsEveryWeightOnce) {
  LayerStreaming options;
  options.model = "opt-13b";
  options.tokens = 4;
  options.prompt = 100;
  options.page_size = 2ull << 20;
  Trace trace = layer_streaming(options);
  // opt-13b: embedding (tied head), and per layer q k v o fc1 fc2 norms + a KV cache.
  ASSERT_EQ(trace.tensor_pages.size(), 1u + 40 * 8);
  uint64_t weight_bytes = 0;
  std::map<uint32_t, int> whole_reads;
  for (const TraceAccess& a : trace.accesses) {
    if (a.tier == Tier::gpu && a.count == trace.tensor_pages[a.tensor] && a.count > 1) {
      ++whole_reads[a.tensor];
    }
  }
  for (uint32_t t = 1; t < trace.tensor_pages.size(); ++t) {
    if (t % 8 == 0) continue;  // KV caches
    if (trace.tensor_pages[t] > 1) {
      EXPECT_EQ(whole_reads[t], 5) << "tensor " << t;
    }
    weight_bytes += uint64_t{trace.tensor_pages[t]} * trace.page_size;
  }
  // 40 layers x 12 x 5120^2 fp16 values: about 25.2 GB, rounded up to 2 MiB pages.
  EXPECT_GT(weight_bytes, 25'000'000'000u);
  EXPECT_LT(weight_bytes, 25'600'000'000u);
  Trace schedule = layer_streaming_schedule(options);
  EXPECT_EQ(schedule.tensor_pages, trace.tensor_pages);
  EXPECT_EQ(schedule.accesses.size(), 40u * 7 + 1);
}

TEST(OptimizerSwapping, SubGroupsUpdateStatesInPlace) {
  OptimizerSwapping options;
  options.model = "phi-3-mini";
  options.iterations = 2;
  options.subgroup_params = 1'000'000'000;
  options.page_size = 64ull << 20;
  Trace trace = optimizer_swapping(options);
  // phi-3-mini has about 3.8 G parameters: 4 sub-groups of 5 tensors each.
  ASSERT_EQ(trace.tensor_pages.size(), 20u);
  // Per iteration and sub-group: forward read, backward write, 4 step accesses + 1 write.
  EXPECT_EQ(trace.accesses.size(), 2u * 4 * 7);
  uint64_t read_writes = 0;
  for (const TraceAccess& a : trace.accesses) read_writes += a.op == TraceOp::read_write;
  EXPECT_EQ(read_writes, 2u * 4 * 3);
}

TEST(RandomAccesses, DeterministicAndSkewed) {
  RandomAccesses options;
  options.pages = 1000;
  options.events = 20000;
  options.alpha = 1.0;
  EXPECT_EQ(random_accesses(options), random_accesses(options));
  std::map<std::pair<uint32_t, uint32_t>, int> counts;
  for (const TraceAccess& a : random_accesses(options).accesses) ++counts[{a.tensor, a.first}];
  int hottest = 0;
  for (const auto& [page, n] : counts) hottest = std::max(hottest, n);
  // Zipf(1) over 1000 pages gives the top page about 1/H(1000) = 13% of the accesses.
  EXPECT_GT(hottest, 2000);
  options.alpha = 0;
  counts.clear();
  for (const TraceAccess& a : random_accesses(options).accesses) ++counts[{a.tensor, a.first}];
  hottest = 0;
  for (const auto& [page, n] : counts) hottest = std::max(hottest, n);
  EXPECT_LT(hottest, 60);
  options.tensors = 16;  // 1000 pages: 8 tensors of 63 pages, then 8 of 62
  Trace split = random_accesses(options);
  ASSERT_EQ(split.tensor_pages.size(), 16u);
  EXPECT_EQ(split.tensor_pages.front(), 63u);
  EXPECT_EQ(split.tensor_pages.back(), 62u);
  options.tensors = 2000;
  EXPECT_THROW(random_accesses(options), Error);
}

}  // namespace
}  // namespace tiermem::workload
