// tests/test_pool_policies.cpp: what a live pool tells its policies: a registered schedule
// (next uses for Belady, read-ahead for the schedule prefetcher), and a recorded trace that
// reads back as the accesses made.
#include <chrono>
#include <thread>

#include "tests/test_support.hpp"
#include "tiermem/tiermem.hpp"
#include "tiermem/trace.hpp"

namespace tiermem {
namespace {

constexpr uint64_t kPage = 64 << 10;

// Six layers of four pages streamed four times through a dram tier of 16 frames; returns the
// dram misses.
uint64_t stream_layers(const std::string& eviction, const std::string& prefetch,
                       bool with_schedule) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir);
  config.policy.eviction = eviction;
  config.policy.prefetch = prefetch;
  Pool pool(config);
  std::vector<Tensor> layers;
  std::vector<ScheduleStep> order;
  for (int i = 0; i < 6; ++i) {
    layers.push_back(pool.allocate({4 * kPage}, DType::u8, "layer" + std::to_string(i)));
    order.push_back({.tensor = layers.back()});
  }
  if (with_schedule) pool.set_schedule(order);
  for (int pass = 0; pass < 4; ++pass) {
    for (const Tensor& layer : layers) layer.pin(Tier::dram, Access::read).reset();
  }
  return pool.stats().tiers[1].misses;
}

TEST(PoolPolicies, LruMissesEveryAccessOfALoopLargerThanTheTier) {
  EXPECT_EQ(stream_layers("lru", "none", false), 96u);
}

TEST(PoolPolicies, BeladyWithARegisteredScheduleKeepsWhatComesBackSoonest) {
  // Belady's optimum for this loop: 24 cold misses, then 8 per pass once 16 pages stay.
  uint64_t misses = stream_layers("belady", "none", true);
  EXPECT_LE(misses, 24u + 3 * 9);
  EXPECT_LT(misses, stream_layers("lru", "none", false));
}

TEST(PoolPolicies, ScheduleErrorsKeepTheEarlierSchedule) {
  testing::ScratchDir dir;
  Pool pool(testing::small_config(dir));
  Tensor t = pool.allocate({kPage}, DType::u8, "t");
  ScheduleStep beyond{.tensor = t, .range = {kPage, 1}};
  testing::expect_error([&] { pool.set_schedule(std::span(&beyond, 1)); }, Errc::invalid_argument,
                        {"'t'"});
  ScheduleStep on_nvme{.tensor = t, .tier = Tier::nvme};
  testing::expect_error([&] { pool.set_schedule(std::span(&on_nvme, 1)); }, Errc::invalid_argument,
                        {"nvme"});
  Tensor gone = pool.allocate({kPage}, DType::u8, "gone");
  gone.release();
  ScheduleStep stale{.tensor = gone};
  testing::expect_error([&] { pool.set_schedule(std::span(&stale, 1)); }, Errc::released, {});
  EXPECT_NO_THROW(pool.set_schedule({}));
}

TEST(PoolPolicies, AnAnnouncedPageIsEvictedBeforeItsUseOnlyWhenNoOtherCanGo) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 2);
  config.policy.eviction = "lru";
  Pool pool(config);
  Tensor t = pool.allocate({3 * kPage}, DType::u8, "t");
  for (uint64_t page = 0; page < 3; ++page) {
    t.pin(Tier::dram, Access::write, {page * kPage, kPage}).reset();
  }
  t.evict(Tier::dram);  // every page only in nvme now
  t.prefetch(Tier::dram, {2 * kPage, kPage});
  for (int wait = 0; wait < 500 && !t.residency(2).in(Tier::dram); ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(t.residency(2).in(Tier::dram));
  t.pin(Tier::dram, Access::read, {0, kPage}).reset();
  // LRU's victim would be page 2, the oldest arrival; announced and unused, it is spared.
  t.pin(Tier::dram, Access::read, {kPage, kPage}).reset();
  EXPECT_TRUE(t.residency(2).in(Tier::dram));
  EXPECT_FALSE(t.residency(0).in(Tier::dram));
  t.pin(Tier::dram, Access::read, {2 * kPage, kPage}).reset();
  const Stats stats = pool.stats();
  EXPECT_EQ(stats.prefetch_useful, 1u);
  EXPECT_EQ(stats.prefetch_useless, 0u);
}

TEST(PoolTrace, RecordsTensorsAccessesAndComputeSpans) {
  testing::ScratchDir dir;
  Pool pool(testing::small_config(dir));
  Tensor a = pool.allocate({4 * kPage}, DType::u8, "a");
  const std::string path = dir.path() + "/run.trace";
  pool.start_trace(path);
  testing::expect_error([&] { pool.start_trace(path); }, Errc::busy, {"already"});
  Tensor b = pool.allocate({2 * kPage}, DType::u8, "b");
  a.pin(Tier::dram, Access::read, {0, 3 * kPage}).reset();  // three pages at once
  pool.compute_begin();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  pool.compute_end();
  b.pin(Tier::dram, Access::write).reset();
  a.pin(Tier::dram, Access::read, {kPage, 10}).reset();  // a hit: through the access log
  pool.stop_trace();
  a.pin(Tier::dram, Access::read).reset();  // after the trace: not in it

  Trace trace = read_trace(path);
  EXPECT_EQ(trace.page_size, kPage);
  EXPECT_EQ(trace.tensor_pages, (std::vector<uint32_t>{4, 2}));
  ASSERT_EQ(trace.accesses.size(), 3u);
  EXPECT_EQ(trace.accesses[0].tensor, 0u);
  EXPECT_EQ(trace.accesses[0].first, 0u);
  EXPECT_EQ(trace.accesses[0].count, 3u);
  EXPECT_EQ(trace.accesses[0].op, TraceOp::read);
  EXPECT_GE(trace.accesses[0].compute_ns, 2'000'000u);
  EXPECT_EQ(trace.accesses[1].tensor, 1u);
  EXPECT_EQ(trace.accesses[1].count, 2u);
  EXPECT_EQ(trace.accesses[1].op, TraceOp::write);
  EXPECT_EQ(trace.accesses[2].tensor, 0u);
  EXPECT_EQ(trace.accesses[2].first, 1u);
  EXPECT_LE(trace.accesses[0].time_ns, trace.accesses[1].time_ns);
  EXPECT_LE(trace.accesses[1].time_ns, trace.accesses[2].time_ns);
}

TEST(PoolTrace, RecordsPrefetchesAsAnnouncementsThatTheSimulatorReplays) {
  testing::ScratchDir dir;
  Pool pool(testing::small_config(dir));
  Tensor a = pool.allocate({4 * kPage}, DType::u8, "a");
  const std::string path = dir.path() + "/hints.trace";
  pool.start_trace(path);
  a.prefetch(Tier::dram, {kPage, 2 * kPage});  // pages 1 and 2, as a router's choice
  a.pin(Tier::dram, Access::read, {kPage, 2 * kPage}).reset();
  pool.stop_trace();

  Trace trace = read_trace(path);
  ASSERT_EQ(trace.accesses.size(), 2u);
  EXPECT_EQ(trace.accesses[0].op, TraceOp::prefetch);
  EXPECT_EQ(trace.accesses[0].first, 1u);
  EXPECT_EQ(trace.accesses[0].count, 2u);
  EXPECT_EQ(trace.accesses[1].op, TraceOp::read);
  EXPECT_EQ(trace.page_accesses(), 2u);
  // Replayed, the announcement brings the pages in ahead of the read.
  sim::Config config;
  config.dram_bytes = 4 * kPage;
  sim::Result replayed = sim::simulate(trace, config);
  EXPECT_EQ(replayed.prefetch_issued, 2u);
  EXPECT_EQ(replayed.misses, 0u);
}

TEST(PoolTrace, AnUnwritablePathIsRefused) {
  testing::ScratchDir dir;
  Pool pool(testing::small_config(dir));
  testing::expect_error([&] { pool.start_trace(dir.path() + "/no/such/dir/t.trace"); },
                        Errc::system, {"no/such/dir"});
  EXPECT_NO_THROW(pool.stop_trace());
}

}  // namespace
}  // namespace tiermem
