// tests/test_pool_faults.cpp: failed I/O never loses data: the page stays valid in the tier
// above, the caller gets an Error naming the page, the file and the errno, and nothing hangs.
#include <limits>

#include "io/fault_engine.hpp"
#include "tests/test_support.hpp"
#include "tiermem/pool_core.hpp"
#include "tools/stress.hpp"

namespace tiermem {
namespace {

using testing::expect_error;
using testing::pattern_byte;

constexpr uint64_t kPage = 64 << 10;
constexpr uint64_t kEverywhere = std::numeric_limits<uint64_t>::max();

std::unique_ptr<detail::PoolCore> faulty_pool(const Config& config, io::FaultPlan plan) {
  auto engine = std::make_unique<io::FaultEngine>(std::move(plan),
                                                  io::EngineConfig{.kind = "uring", .threads = 2});
  return std::make_unique<detail::PoolCore>(config, std::move(engine));
}

void fill(detail::PoolCore& pool, const Tensor& t, uint64_t seed) {
  Pin pin = pool.pin(t, Tier::dram, Access::write, ByteRange::whole());
  for (uint64_t i = 0; i < pin.size(); ++i) {
    pin.bytes()[i] = static_cast<std::byte>(pattern_byte(seed, i));
  }
}

uint64_t mismatches(detail::PoolCore& pool, const Tensor& t, uint64_t seed) {
  Pin pin = pool.pin(t, Tier::dram, Access::read, ByteRange::whole());
  uint64_t bad = 0;
  for (uint64_t i = 0; i < pin.size(); ++i) {
    bad += pin.bytes()[i] != static_cast<std::byte>(pattern_byte(seed, i));
  }
  return bad;
}

TEST(PoolFaults, AFailedWriteBackKeepsThePageInDram) {
  testing::ScratchDir dir;
  io::FaultPlan plan;
  plan.fail_ranges.push_back({.begin = 0, .end = kEverywhere, .error = ENOSPC, .reads = false});
  auto pool = faulty_pool(testing::small_config(dir), plan);
  Tensor full = pool->allocate(std::vector<uint64_t>{16 * kPage}, DType::u8, "full", {});
  fill(*pool, full, 1);  // every dram frame now holds a dirty page
  Tensor more = pool->allocate(std::vector<uint64_t>{kPage}, DType::u8, "more", {});
  expect_error(
      [&] { pool->pin(more, Tier::dram, Access::read, ByteRange::whole()); }, Errc::io,
      {"writing page", "of tensor 'full'", "stays valid in dram", "at offset", "No space left"});
  expect_error([&] { pool->flush(&full); }, Errc::io, {"'full'"});
  EXPECT_EQ(mismatches(*pool, full, 1), 0u);
  for (const PageResidency& r : pool->residency(full)) EXPECT_TRUE(r.in(Tier::dram) && r.dirty);
  EXPECT_GE(pool->stats().io_errors, 2u);
}

TEST(PoolFaults, AFailedReadLeavesTheNvmeCopyValid) {
  testing::ScratchDir dir;
  io::FaultPlan plan;
  plan.fail_ranges.push_back({.begin = 0, .end = kEverywhere, .error = EIO, .writes = false});
  auto pool = faulty_pool(testing::small_config(dir), plan);
  Tensor t = pool->allocate(std::vector<uint64_t>{4 * kPage}, DType::u8, "cold", {});
  fill(*pool, t, 2);
  EXPECT_EQ(pool->evict(t, Tier::dram), 4u);  // written down: writes work
  expect_error(
      [&] {
        pool->pin(t, Tier::dram, Access::read, ByteRange{kPage, 10});
      },
      Errc::io, {"bringing page 1 of tensor 'cold' into dram failed", "Input/output error"});
  PageResidency r = pool->residency(t, 1);
  EXPECT_TRUE(r.in(Tier::nvme));
  EXPECT_FALSE(r.in(Tier::dram));
  EXPECT_FALSE(r.in_flight);
  EXPECT_EQ(pool->stats().tiers[1].free_frames, 16u);  // the frame came back
}

// A Pool whose I/O goes through a fault injector.
class FaultyPool : public Pool {
 public:
  FaultyPool(const Config& config, io::FaultPlan plan)
      : Pool(faulty_pool(config, std::move(plan))) {}
};

TEST(PoolFaults, RandomFailuresAndLateCompletionsLoseNoByte) {
  testing::ScratchDir dir;
  io::FaultPlan plan;
  plan.fail_probability = 0.05;
  plan.short_probability = 0.2;
  plan.latency = std::chrono::microseconds(200);
  plan.seed = 11;
  Config config = testing::small_config(dir, 32, 16, 1024);
  FaultyPool pool(config, plan);
  tools::StressOptions options;
  options.total_bytes = 4 * config.dram.capacity;
  options.threads = 3;
  options.max_operations = 400;
  options.retry_io_errors = true;
  options.seed = 5;
  tools::StressReport report = tools::run_stress(pool, options);
  EXPECT_GT(report.io_errors, 0u) << "the plan injected no failure that reached a pin";
  EXPECT_EQ(report.mismatches, 0u);
  EXPECT_GT(pool.stats().io_errors, 0u);
}

}  // namespace
}  // namespace tiermem
