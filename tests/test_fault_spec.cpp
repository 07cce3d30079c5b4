// tests/test_fault_spec.cpp: the io.faults value: every item parsed into the plan, every bad
// one refused by name, and a pool that injects them.
#include <algorithm>
#include <cstring>

#include "tests/test_support.hpp"
#include "tiermem/fault_spec.hpp"
#include "tiermem/tiermem.hpp"

namespace tiermem {
namespace {

using testing::expect_error;

TEST(FaultSpec, EveryItemReachesThePlan) {
  io::FaultPlan plan = detail::parse_fault_spec(
      "eio=0.01,enospc.write=0.5,eio.read@1MiB-2MiB,short=0.25,retry=0.125,latency=3ms,seed=9");
  ASSERT_EQ(plan.chances.size(), 2u);
  EXPECT_EQ(plan.chances[0].error, EIO);
  EXPECT_DOUBLE_EQ(plan.chances[0].probability, 0.01);
  EXPECT_TRUE(plan.chances[0].reads && plan.chances[0].writes);
  EXPECT_EQ(plan.chances[1].error, ENOSPC);
  EXPECT_FALSE(plan.chances[1].reads);
  EXPECT_TRUE(plan.chances[1].writes);
  ASSERT_EQ(plan.fail_ranges.size(), 1u);
  EXPECT_EQ(plan.fail_ranges[0].begin, 1u << 20);
  EXPECT_EQ(plan.fail_ranges[0].end, 2u << 20);
  EXPECT_TRUE(plan.fail_ranges[0].reads);
  EXPECT_FALSE(plan.fail_ranges[0].writes);
  EXPECT_DOUBLE_EQ(plan.short_probability, 0.25);
  EXPECT_DOUBLE_EQ(plan.retry_probability, 0.125);
  EXPECT_EQ(plan.latency, std::chrono::milliseconds(3));
  EXPECT_EQ(plan.seed, 9u);
  EXPECT_TRUE(detail::parse_fault_spec("").chances.empty());
}

TEST(FaultSpec, BadItemsAreRefusedByName) {
  auto refused = [](const char* spec, std::initializer_list<std::string> fragments) {
    expect_error([&] { detail::parse_fault_spec(spec); }, Errc::config, fragments);
  };
  refused("eio=2", {"item 'eio=2'", "not a probability from 0 to 1"});
  refused("eio=-0.1", {"not a probability"});
  refused("eio=nan", {"not a probability"});
  refused("ebadf=0.1", {"unknown fault 'ebadf'", "known: eio, enospc"});
  refused("eio.append=0.1", {"'append' is neither read nor write"});
  refused("eio@5-3", {"ends at 3, not after its begin 5"});
  refused("eio@4096", {"expected a byte range BEGIN-END"});
  refused("eio@x-1", {"invalid size 'x'"});
  refused("latency=5", {"not a duration"});
  refused("latency=11s", {"at most 10s"});
  refused("seed=-1", {"not a whole number"});
  refused("short", {"expected NAME=VALUE"});
  // Through the configuration, before a pool starts.
  Config config;
  config.io.faults = "eio=7";
  expect_error([&] { config.validate(); }, Errc::invalid_argument, {"io.faults", "eio=7"});
  expect_error([&] { config.set("io.faults", "x"), config.validate(); }, Errc::invalid_argument,
               {"item 'x'"});
}

TEST(FaultSpec, APoolWithFaultsOnEveryWriteKeepsItsData) {
  testing::ScratchDir dir;
  Config config = testing::small_config(dir, 4);
  config.io.faults = "enospc.write=1";
  config.log_level = "off";
  Pool pool(config);
  Tensor t = pool.allocate({4 * 64 << 10}, DType::u8, "t");
  std::memset(t.pin(Tier::dram, Access::write).data(), 7, t.size_bytes());
  expect_error([&] { t.flush(); }, Errc::io, {"No space left on device", "stays valid in dram"});
  Pin pin = t.pin(Tier::dram, Access::read);
  const auto* bytes = static_cast<const uint8_t*>(pin.data());
  EXPECT_EQ(std::count(bytes, bytes + pin.size(), 7), static_cast<long>(pin.size()));
  EXPECT_GT(pool.stats().io_errors, 0u);
}

}  // namespace
}  // namespace tiermem
